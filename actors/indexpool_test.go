package actors

import (
	"errors"
	"testing"
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
