package index

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Metric is the distance an index ranks by.
type Metric int

const (
	// L2 ranks by squared Euclidean distance; smaller is closer. Distances
	// returned are squared (FAISS does not take the root).
	L2 Metric = iota
	// InnerProduct ranks by the inner product; larger is closer. For cosine
	// similarity, normalize vectors before adding and searching.
	InnerProduct
)

// String names the metric.
func (m Metric) String() string {
	switch m {
	case L2:
		return "L2"
	case InnerProduct:
		return "InnerProduct"
	default:
		return fmt.Sprintf("Metric(%d)", int(m))
	}
}

func (m Metric) valid() bool { return m == L2 || m == InnerProduct }

// Kind is the structure of an index.
type Kind int

const (
	// KindFlat is an exact (brute-force) index; ids are positions 0..Len()-1,
	// and RemoveIDs shifts the positions after a removed vector down.
	KindFlat Kind = iota + 1
	// KindIDMap is an exact index whose vectors carry caller-chosen ids
	// (FAISS IndexIDMap2 over IndexFlat).
	KindIDMap
	// KindHNSW is an approximate graph index (FAISS IndexHNSWFlat); ids are
	// positions, and vectors cannot be removed.
	KindHNSW
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindFlat:
		return "Flat"
	case KindIDMap:
		return "IDMap"
	case KindHNSW:
		return "HNSW"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

const (
	// MaxDim is the largest vector dimension the package accepts.
	MaxDim = 1 << 16
	// MaxHNSWNeighbors is the largest HNSW neighbors (FAISS's M) accepted.
	MaxHNSWNeighbors = 256
	// MaxEfSearch is the largest HNSW efSearch (and efConstruction) accepted.
	MaxEfSearch = 1 << 16
	// DefaultEfConstruction is the HNSW build-time beam width NewHNSW sets
	// (FAISS's default is 40; per-user indexes are small enough to afford more).
	DefaultEfConstruction = 64
	// DefaultEfSearch is the HNSW search-time beam width NewHNSW sets (FAISS's
	// default of 16 loses recall on small, high-dimensional sets).
	DefaultEfSearch = 64

	// maxResults caps queries*k for one search so that a wrong k cannot ask
	// for gigabytes.
	maxResults = 1 << 26
)

// MissingDistance is the distance FAISS reports with label -1 where fewer
// than k neighbors exist: math.MaxFloat32 for L2, -math.MaxFloat32 for
// InnerProduct (the worst possible score).
func MissingDistance(m Metric) float32 {
	if m == InnerProduct {
		return -math.MaxFloat32
	}
	return math.MaxFloat32
}

// Index is a FAISS index of float32 vectors of one dimension.
//
// An Index is meant to be used by one goroutine at a time: the engine gives
// each index to exactly one actor. Every method takes an internal mutex all the
// same, so that misuse (or Close racing a Search) serializes instead of
// corrupting FAISS's memory. Searches run single-threaded inside FAISS; see
// the package documentation.
//
// Close frees the C++ index. An Index that becomes unreachable without Close
// is freed by a cleanup function as a safety net, but callers should Close.
type Index struct {
	mu      sync.Mutex
	h       cHandle // zero once closed
	cleanup runtime.Cleanup

	// Fixed at creation; readable without the mutex.
	dim    int
	metric Metric
	kind   Kind
}

func newIndex(h cHandle, kind Kind, dim int, m Metric) *Index {
	x := &Index{h: h, dim: dim, metric: m, kind: kind}
	// The cleanup holds the handle, not x, so it can run once x is garbage.
	// Methods keep x reachable until their deferred Unlock, so the handle is
	// never freed under a running C call.
	x.cleanup = runtime.AddCleanup(x, func(h cHandle) { h.free() }, h)
	return x
}

func checkNew(op string, dim int, m Metric) error {
	if dim <= 0 || dim > MaxDim {
		return fmt.Errorf("index: %s: dimension %d outside 1..%d: %w", op, dim, MaxDim, ErrDimension)
	}
	if !m.valid() {
		return fmt.Errorf("index: %s: %v: %w", op, m, ErrInvalidArgument)
	}
	return nil
}

// NewFlat returns an exact index (FAISS IndexFlatL2 or IndexFlatIP). Its ids
// are the positions of the vectors in insertion order.
func NewFlat(dim int, m Metric) (*Index, error) {
	if err := checkNew("new flat", dim, m); err != nil {
		return nil, err
	}
	h, err := cNew(KindFlat, dim, m, 0, 0, 0)
	if err != nil {
		return nil, err
	}
	return newIndex(h, KindFlat, dim, m), nil
}

// NewIDMap returns an exact index whose vectors carry caller-chosen,
// non-negative, unique ids (FAISS IndexIDMap2 over IndexFlat): it supports
// AddWithIDs, RemoveIDs and Reconstruct by id, but not Add.
func NewIDMap(dim int, m Metric) (*Index, error) {
	if err := checkNew("new idmap", dim, m); err != nil {
		return nil, err
	}
	h, err := cNew(KindIDMap, dim, m, 0, 0, 0)
	if err != nil {
		return nil, err
	}
	return newIndex(h, KindIDMap, dim, m), nil
}

// NewHNSW returns an approximate graph index (FAISS IndexHNSWFlat) with the
// given number of neighbors per node (FAISS's M, 2..MaxHNSWNeighbors; 16 to 32
// is usual). efConstruction and efSearch start at DefaultEfConstruction and
// DefaultEfSearch. Ids are positions; RemoveIDs is not supported by FAISS.
func NewHNSW(dim, neighbors int, m Metric) (*Index, error) {
	if err := checkNew("new hnsw", dim, m); err != nil {
		return nil, err
	}
	if neighbors < 2 || neighbors > MaxHNSWNeighbors {
		return nil, fmt.Errorf("index: new hnsw: neighbors %d outside 2..%d: %w",
			neighbors, MaxHNSWNeighbors, ErrInvalidArgument)
	}
	h, err := cNew(KindHNSW, dim, m, neighbors, DefaultEfConstruction, DefaultEfSearch)
	if err != nil {
		return nil, err
	}
	return newIndex(h, KindHNSW, dim, m), nil
}

// Dim is the vector dimension. It stays valid after Close.
func (x *Index) Dim() int { return x.dim }

// Metric is the index's metric. It stays valid after Close.
func (x *Index) Metric() Metric { return x.metric }

// Kind is the index's structure. It stays valid after Close.
func (x *Index) Kind() Kind { return x.kind }

// Len is the number of vectors in the index (FAISS's ntotal); 0 once closed.
func (x *Index) Len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.h.valid() {
		return 0
	}
	return x.h.ntotal()
}

// rows checks that vecs holds whole vectors with finite components and returns
// how many.
func (x *Index) rows(op string, vecs []float32) (int, error) {
	if len(vecs)%x.dim != 0 {
		return 0, fmt.Errorf("index: %s: length %d is not a multiple of dimension %d: %w",
			op, len(vecs), x.dim, ErrDimension)
	}
	for i, v := range vecs {
		// v-v is 0 for every finite v and NaN for NaN and ±Inf.
		if v-v != 0 {
			return 0, fmt.Errorf("index: %s: vector %d: %w", op, i/x.dim, ErrNonFinite)
		}
	}
	return len(vecs) / x.dim, nil
}

func closedErr(op string) error { return fmt.Errorf("index: %s: %w", op, ErrClosed) }

// Add appends vectors (len(vecs) = n*Dim(), row-major). On a flat or HNSW
// index they get the ids Len() .. Len()+n-1. An empty vecs adds nothing. Add is
// not supported by an IDMap index: use AddWithIDs.
func (x *Index) Add(vecs []float32) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.h.valid() {
		return closedErr("add")
	}
	if x.kind == KindIDMap {
		return fmt.Errorf("index: add: %v index needs AddWithIDs: %w", x.kind, ErrUnsupported)
	}
	n, err := x.rows("add", vecs)
	if err != nil || n == 0 {
		return err
	}
	return x.h.add(n, vecs)
}

// AddWithIDs adds vectors (len(vecs) = len(ids)*Dim()) under the given ids,
// which must be non-negative and not already present. Only an IDMap index
// supports it. On error nothing is added.
func (x *Index) AddWithIDs(vecs []float32, ids []int64) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.h.valid() {
		return closedErr("add with ids")
	}
	if x.kind != KindIDMap {
		return fmt.Errorf("index: add with ids: %v index assigns positions as ids: %w", x.kind, ErrUnsupported)
	}
	n, err := x.rows("add with ids", vecs)
	if err != nil {
		return err
	}
	if len(ids) != n {
		return fmt.Errorf("index: add with ids: %d ids for %d vectors: %w", len(ids), n, ErrDimension)
	}
	for _, id := range ids {
		if id < 0 {
			return fmt.Errorf("index: add with ids: id %d: %w", id, ErrInvalidID)
		}
	}
	if n == 0 {
		return nil
	}
	return x.h.addWithIDs(n, vecs, ids)
}

// RemoveIDs removes the vectors with the given ids and reports how many it
// removed; ids not present are ignored. On a flat index ids are positions and
// the vectors after a removed one move down. An HNSW index does not support
// removal: FAISS refuses it and the error wraps ErrFaiss.
func (x *Index) RemoveIDs(ids []int64) (int, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.h.valid() {
		return 0, closedErr("remove ids")
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return x.h.removeIDs(ids)
}

// Reconstruct copies the vector with the given id into dst (len(dst) =
// Dim()). It returns an error wrapping ErrNotFound if no vector has that id.
func (x *Index) Reconstruct(id int64, dst []float32) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.h.valid() {
		return closedErr("reconstruct")
	}
	if len(dst) != x.dim {
		return fmt.Errorf("index: reconstruct: buffer of %d for dimension %d: %w", len(dst), x.dim, ErrDimension)
	}
	if id < 0 {
		return fmt.Errorf("index: reconstruct: id %d: %w", id, ErrNotFound)
	}
	return x.h.reconstruct(id, dst)
}

// checkSearch validates a search and returns the number of queries.
func (x *Index) checkSearch(op string, queries []float32, k int) (int, error) {
	n, err := x.rows(op, queries)
	if err != nil {
		return 0, err
	}
	if k <= 0 {
		return 0, fmt.Errorf("index: %s: k = %d: %w", op, k, ErrDimension)
	}
	if n > 0 && k > maxResults/n {
		return 0, fmt.Errorf("index: %s: %d queries × k = %d exceeds %d results: %w", op, n, k, maxResults, ErrDimension)
	}
	return n, nil
}

// Search finds the k nearest vectors of each query (len(queries) = n*Dim()).
// The results are n*k, row-major, best first: dist[i*k+j] and labels[i*k+j]
// are the j-th neighbor of query i. Where the index holds fewer than k
// vectors, the missing labels are -1 and their distances MissingDistance(m).
// For L2 the distances are squared.
func (x *Index) Search(queries []float32, k int) (dist []float32, labels []int64, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.h.valid() {
		return nil, nil, closedErr("search")
	}
	n, err := x.checkSearch("search", queries, k)
	if err != nil {
		return nil, nil, err
	}
	dist = make([]float32, n*k)
	labels = make([]int64, n*k)
	if n == 0 {
		return dist, labels, nil
	}
	if err := x.h.search(n, queries, k, dist, labels); err != nil {
		return nil, nil, err
	}
	return dist, labels, nil
}

// SearchInto is Search writing into caller-owned buffers, so that it
// allocates nothing: len(dist) and len(labels) must be n*k, where n =
// len(query)/Dim() (usually 1). It is the engine's per-sample hot path.
func (x *Index) SearchInto(query []float32, k int, dist []float32, labels []int64) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.h.valid() {
		return closedErr("search into")
	}
	n, err := x.checkSearch("search into", query, k)
	if err != nil {
		return err
	}
	if len(dist) != n*k || len(labels) != n*k {
		return fmt.Errorf("index: search into: buffers of %d and %d for %d results: %w",
			len(dist), len(labels), n*k, ErrDimension)
	}
	if n == 0 {
		return nil
	}
	return x.h.search(n, query, k, dist, labels)
}

// Reset removes every vector; the index keeps its kind, dimension and metric.
func (x *Index) Reset() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.h.valid() {
		return closedErr("reset")
	}
	return x.h.reset()
}

// SetEfSearch sets the beam width of HNSW searches (1..MaxEfSearch): higher
// is slower and more accurate. Other kinds return ErrUnsupported. The value
// is kept by Serialize.
func (x *Index) SetEfSearch(ef int) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.h.valid() {
		return closedErr("set ef search")
	}
	if x.kind != KindHNSW {
		return fmt.Errorf("index: set ef search: %v index: %w", x.kind, ErrUnsupported)
	}
	if ef < 1 || ef > MaxEfSearch {
		return fmt.Errorf("index: set ef search: %d outside 1..%d: %w", ef, MaxEfSearch, ErrInvalidArgument)
	}
	return x.h.setEfSearch(ef)
}

// Serialize writes the index in FAISS's own format (faiss::write_index), so
// that it can be stored (as bytea in Postgres) and read back by Deserialize.
func (x *Index) Serialize() ([]byte, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.h.valid() {
		return nil, closedErr("serialize")
	}
	return x.h.serialize()
}

// Deserialize reads an index written by Serialize. The bytes are checked in Go
// first (see validate.go): only the three kinds this package builds are
// accepted, and every length, id and graph link must be consistent, so that
// damaged input can neither make FAISS allocate without bound nor leave an
// index that reads out of bounds when searched. Any rejection wraps
// ErrCorrupt.
func Deserialize(b []byte) (*Index, error) {
	info, err := validateSerialized(b)
	if err != nil {
		return nil, fmt.Errorf("index: deserialize: %w: %w", ErrCorrupt, err)
	}
	h, kind, dim, m, err := cDeserialize(b)
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return nil, err
		}
		return nil, fmt.Errorf("%w (%w)", err, ErrCorrupt)
	}
	if kind != info.kind || dim != info.dim || m != info.metric {
		h.free()
		return nil, fmt.Errorf("index: deserialize: FAISS read %v/%d/%v, expected %v/%d/%v: %w",
			kind, dim, m, info.kind, info.dim, info.metric, ErrCorrupt)
	}
	return newIndex(h, kind, dim, m), nil
}

// Close frees the index. It is idempotent; every other method returns an
// error wrapping ErrClosed afterwards.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.h.valid() {
		return nil
	}
	x.cleanup.Stop()
	x.h.free()
	x.h = cHandle{}
	return nil
}
