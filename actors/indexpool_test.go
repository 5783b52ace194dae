package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/scoring"
)

// TestIndexPool holds the pool's rules: only a Reset creates an index (an add or a search of a missing one is
// ErrIndexMissing, for the owner to rebuild from its templates), a Reset of another length replaces the index,
// and a dropped index is missing again.
func TestIndexPool(t *testing.T) {
	e := benchEngine(t)
	h28, h31 := e.pool.Handle("k", 28), e.pool.Handle("k", 31)
	vec := func(dim int) []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(i)
		}
		return v
	}
	dist, labels := make([]float32, 1), make([]int64, 1)
	steps := []struct {
		name string
		do   func() error
		want error
	}{
		{"search of a missing index", func() error { return h28.SearchInto(vec(28), 1, dist, labels) }, ErrIndexMissing},
		{"add to a missing index", func() error { return h28.AddWithIDs(vec(28), []int64{1}) }, ErrIndexMissing},
		{"reset creates", h28.Reset, nil},
		{"add", func() error { return h28.AddWithIDs(vec(28), []int64{1}) }, nil},
		{"search", func() error { return h28.SearchInto(vec(28), 1, dist, labels) }, nil},
		{"reset with another length", h31.Reset, nil},
		{"add of the new length", func() error { return h31.AddWithIDs(vec(31), []int64{2}) }, nil},
		{"search of the new length", func() error { return h31.SearchInto(vec(31), 1, dist, labels) }, nil},
		{"drop", func() error { e.pool.Drop("k"); return nil }, nil},
		{"search after the drop", func() error { return h31.SearchInto(vec(31), 1, dist, labels) }, ErrIndexMissing},
	}
	for _, s := range steps {
		if err := s.do(); !errors.Is(err, s.want) || (s.want == nil && err != nil) {
			t.Fatalf("%s: %v, want %v", s.name, err, s.want)
		}
	}
	if h31.Len() != 0 {
		t.Fatalf("a dropped index has %d vectors", h31.Len())
	}
}

// TestIndexPoolEviction: at capacity the least recently used index goes, uses that took the direct path
// included; an index idle past idle_evict goes too.
func TestIndexPoolEviction(t *testing.T) {
	e := benchEngine(t)
	p := newIndexPool(e, config.Index{PoolSize: 1, MaxIndexes: 2, IdleEvict: time.Hour})
	p.start()
	t.Cleanup(p.shutdown)
	h := func(key string) scoring.Index { return p.Handle(key, 4) }
	dist, labels := make([]float32, 1), make([]int64, 1)
	search := func(key string) error { return h(key).SearchInto([]float32{1, 2, 3, 4}, 1, dist, labels) }
	tick := func() { time.Sleep(2 * time.Millisecond) }

	for _, key := range []string{"a", "b"} {
		if err := h(key).Reset(); err != nil {
			t.Fatal(err)
		}
		tick()
	}
	if err := search("a"); err != nil { // "a" is now the most recently used, by the direct path
		t.Fatal(err)
	}
	tick()
	if err := h("c").Reset(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  string
		want error
	}{{"a", nil}, {"b", ErrIndexMissing}, {"c", nil}} {
		if err := search(tc.key); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Fatalf("search of %q after the eviction: %v, want %v", tc.key, err, tc.want)
		}
	}

	// Idle eviction: with everything older than the cutoff, every index goes.
	a := &poolActor{e: e, capacity: 2, idle: time.Nanosecond, shard: p.shards[0]}
	tick()
	a.evictIdle()
	if err := search("a"); !errors.Is(err, ErrIndexMissing) {
		t.Fatalf("search after idle eviction: %v, want %v", err, ErrIndexMissing)
	}
}
