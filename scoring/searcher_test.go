package scoring

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

func TestExactSearcherMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const dim, n = 7, 60
	s := NewExactSearcher(dim)
	vecs := make([]float32, n*dim)
	ids := make([]int64, n)
	for i := range vecs {
		vecs[i] = float32(rng.NormFloat64())
	}
	for i := range ids {
		ids[i] = int64(1000 + 3*i)
	}
	if err := s.AddWithIDs(vecs, ids); err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{1, 3, 10, n} {
		q := make([]float32, dim)
		for i := range q {
			q[i] = float32(rng.NormFloat64())
		}
		type hit struct {
			d  float32
			id int64
		}
		var want []hit
		for r := 0; r < n; r++ {
			var d float32
			for j := 0; j < dim; j++ {
				e := q[j] - vecs[r*dim+j]
				d += e * e
			}
			want = append(want, hit{d, ids[r]})
		}
		sort.SliceStable(want, func(a, b int) bool { return want[a].d < want[b].d })
		dist, labels := make([]float32, k), make([]int64, k)
		if err := s.SearchInto(q, k, dist, labels); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < k; i++ {
			if dist[i] != want[i].d || labels[i] != want[i].id {
				t.Fatalf("k=%d rank %d: got (%v, %d), want (%v, %d)", k, i, dist[i], labels[i], want[i].d, want[i].id)
			}
		}
	}
}

func TestExactSearcherShortAndRemove(t *testing.T) {
	s := NewExactSearcher(2)
	if err := s.Add([]float32{0, 0, 1, 0, 5, 5}); err != nil {
		t.Fatal(err)
	}
	dist, labels := make([]float32, 5), make([]int64, 5)
	if err := s.SearchInto([]float32{0, 0}, 5, dist, labels); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(labels, []int64{0, 1, 2, -1, -1}) || !math.IsInf(float64(dist[4]), 1) || dist[1] != 1 {
		t.Fatalf("labels %v dist %v", labels, dist)
	}
	if n, err := s.RemoveIDs([]int64{1, 42}); n != 1 || err != nil {
		t.Fatalf("removed %d, %v", n, err)
	}
	_ = s.SearchInto([]float32{0, 0}, 2, dist, labels)
	if !slices.Equal(labels[:2], []int64{0, 2}) || dist[1] != 50 {
		t.Fatalf("after remove: labels %v dist %v", labels[:2], dist[:2])
	}
	if err := s.Add([]float32{9, 9}); err != nil || s.Len() != 3 {
		t.Fatal(err)
	}
	_ = s.SearchInto([]float32{9, 9}, 1, dist, labels)
	if labels[0] != 3 {
		t.Fatalf("sequential id after remove = %d, want 3", labels[0])
	}
	if err := s.Reset(); err != nil || s.Len() != 0 {
		t.Fatal(err)
	}
}

func TestExactSearcherErrors(t *testing.T) {
	s := NewExactSearcher(3)
	tests := []struct {
		name string
		err  error
		call func() error
	}{
		{"add ragged", ErrDimension, func() error { return s.Add([]float32{1, 2}) }},
		{"add ids mismatch", ErrDimension, func() error { return s.AddWithIDs([]float32{1, 2, 3}, []int64{1, 2}) }},
		{"query dim", ErrDimension, func() error { return s.SearchInto([]float32{1}, 1, make([]float32, 1), make([]int64, 1)) }},
		{"k zero", ErrScratch, func() error { return s.SearchInto([]float32{1, 2, 3}, 0, nil, nil) }},
		{"short dist", ErrScratch, func() error { return s.SearchInto([]float32{1, 2, 3}, 2, make([]float32, 1), make([]int64, 2)) }},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, tt.err) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.err)
		}
	}
	if _, err := NewExactIndex(0); !errors.Is(err, ErrDimension) {
		t.Errorf("NewExactIndex(0): %v", err)
	}
}
