package scoring

import (
	"fmt"
	"math"
	"slices"
)

// Searcher finds nearest neighbours by squared L2 distance, as a FAISS flat index does.
// SearchInto writes the k nearest stored vectors of query, nearest first, into dist
// (squared L2) and labels (their ids); when fewer than k vectors are stored the remaining
// slots hold label -1 and distance +Inf. The production implementation is the FAISS
// binding of package index; ExactSearcher is a pure-Go equivalent.
type Searcher interface {
	SearchInto(query []float32, k int, dist []float32, labels []int64) error
	Len() int
}

// Index is a Searcher whose contents can be changed: what a template set needs to load
// its standardized vectors and keep them in step as it adapts.
type Index interface {
	Searcher
	AddWithIDs(vecs []float32, ids []int64) error
	RemoveIDs(ids []int64) (int, error)
	Reset() error
}

// NewIndexFunc builds an empty index for vectors of dim values. Evaluation and tools take
// one so that the same code runs on ExactSearcher or on FAISS.
type NewIndexFunc func(dim int) (Index, error)

// ExactSearcher is a brute-force Index in pure Go: exact, allocation-free to search, fine
// for the few hundred vectors of one profile, and the reference the FAISS binding is
// checked against. It is not safe for concurrent use.
type ExactSearcher struct {
	dim    int
	vecs   []float32
	ids    []int64
	nextID int64
}

var _ Index = (*ExactSearcher)(nil)

// NewExactSearcher returns an empty ExactSearcher for vectors of dim values.
func NewExactSearcher(dim int) *ExactSearcher { return &ExactSearcher{dim: dim} }

// NewExactIndex is a NewIndexFunc that builds ExactSearchers.
func NewExactIndex(dim int) (Index, error) {
	if dim <= 0 {
		return nil, fmt.Errorf("exact index of dim %d: %w", dim, ErrDimension)
	}
	return NewExactSearcher(dim), nil
}

// Dim returns the vector length.
func (s *ExactSearcher) Dim() int { return s.dim }

// Len returns the number of stored vectors.
func (s *ExactSearcher) Len() int { return len(s.ids) }

// Add stores row-major vectors with sequential ids (0, 1, ... continuing across calls),
// as a FAISS flat index numbers them.
func (s *ExactSearcher) Add(vecs []float32) error {
	if s.dim <= 0 || len(vecs)%s.dim != 0 {
		return fmt.Errorf("add %d values to dim %d: %w", len(vecs), s.dim, ErrDimension)
	}
	n := len(vecs) / s.dim
	for i := 0; i < n; i++ {
		s.ids = append(s.ids, s.nextID)
		s.nextID++
	}
	s.vecs = append(s.vecs, vecs...)
	return nil
}

// AddWithIDs stores row-major vectors under the given ids.
func (s *ExactSearcher) AddWithIDs(vecs []float32, ids []int64) error {
	if s.dim <= 0 || len(vecs) != len(ids)*s.dim {
		return fmt.Errorf("add %d values with %d ids to dim %d: %w", len(vecs), len(ids), s.dim, ErrDimension)
	}
	s.vecs = append(s.vecs, vecs...)
	s.ids = append(s.ids, ids...)
	for _, id := range ids {
		if id >= s.nextID {
			s.nextID = id + 1
		}
	}
	return nil
}

// RemoveIDs deletes every vector whose id is in ids and returns how many it removed.
func (s *ExactSearcher) RemoveIDs(ids []int64) (int, error) {
	w := 0
	for r := range s.ids {
		if slices.Contains(ids, s.ids[r]) {
			continue
		}
		if w != r {
			s.ids[w] = s.ids[r]
			copy(s.vecs[w*s.dim:(w+1)*s.dim], s.vecs[r*s.dim:(r+1)*s.dim])
		}
		w++
	}
	removed := len(s.ids) - w
	s.ids = s.ids[:w]
	s.vecs = s.vecs[:w*s.dim]
	return removed, nil
}

// Reset removes every vector.
func (s *ExactSearcher) Reset() error {
	s.ids = s.ids[:0]
	s.vecs = s.vecs[:0]
	return nil
}

// SearchInto implements Searcher. It does not allocate.
func (s *ExactSearcher) SearchInto(query []float32, k int, dist []float32, labels []int64) error {
	if len(query) != s.dim {
		return ErrDimension
	}
	if k <= 0 || len(dist) < k || len(labels) < k {
		return ErrScratch
	}
	inf := float32(math.Inf(1))
	for i := 0; i < k; i++ {
		dist[i], labels[i] = inf, -1
	}
	for r, id := range s.ids {
		v := s.vecs[r*s.dim : (r+1)*s.dim]
		var d float32
		for j, q := range query {
			e := q - v[j]
			d += e * e
		}
		if d >= dist[k-1] {
			continue
		}
		// Insert keeping dist sorted ascending.
		j := k - 1
		for j > 0 && dist[j-1] > d {
			dist[j], labels[j] = dist[j-1], labels[j-1]
			j--
		}
		dist[j], labels[j] = d, id
	}
	return nil
}
