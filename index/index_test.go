package index

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// tolerance for FAISS's float32 distances against the float64 brute force:
// 1e-4 relative, with distances below 1 compared absolutely.
func near(got, want float64) bool {
	return math.Abs(got-want) <= 1e-4*math.Max(1, math.Abs(want))
}

// kindCase is one index configuration of the table-driven tests.
type kindCase struct {
	name   string
	kind   Kind
	metric Metric
	exact  bool // false: HNSW, held to recall instead of equality
}

var kindCases = []kindCase{
	{"flat/L2", KindFlat, L2, true},
	{"flat/IP", KindFlat, InnerProduct, true},
	{"idmap/L2", KindIDMap, L2, true},
	{"idmap/IP", KindIDMap, InnerProduct, true},
	{"hnsw/L2", KindHNSW, L2, false},
	{"hnsw/IP", KindHNSW, InnerProduct, false},
}

func newFor(tb testing.TB, c kindCase, dim int) *Index {
	tb.Helper()
	var x *Index
	var err error
	switch c.kind {
	case KindFlat:
		x, err = NewFlat(dim, c.metric)
	case KindIDMap:
		x, err = NewIDMap(dim, c.metric)
	case KindHNSW:
		x, err = NewHNSW(dim, 16, c.metric)
	}
	if err != nil {
		tb.Fatalf("new %s: %v", c.name, err)
	}
	if x.Kind() != c.kind || x.Metric() != c.metric || x.Dim() != dim {
		tb.Fatalf("new %s: got %v/%v/%d", c.name, x.Kind(), x.Metric(), x.Dim())
	}
	tb.Cleanup(func() { _ = x.Close() })
	return x
}

func randVecs(r *rand.Rand, n, dim int) []float32 {
	v := make([]float32, n*dim)
	for i := range v {
		v[i] = float32(r.Float64()*2 - 1)
	}
	return v
}

// model is the test's own record of what an index holds, in FAISS's order.
type model struct {
	dim    int
	metric Metric
	ids    []int64
	vecs   [][]float32
}

func (m *model) find(id int64) int { return slices.Index(m.ids, id) }

func (m *model) score(q, v []float32) float64 {
	var s float64
	for i := range q {
		if m.metric == L2 {
			d := float64(q[i]) - float64(v[i])
			s += d * d
		} else {
			s += float64(q[i]) * float64(v[i])
		}
	}
	return s
}

// better reports whether score a ranks before score b.
func (m *model) better(a, b float64) bool {
	if m.metric == L2 {
		return a < b
	}
	return a > b
}

type hit struct {
	id   int64
	dist float64
}

// knn is the brute-force answer: every vector scored in float64, sorted.
func (m *model) knn(q []float32, k int) []hit {
	hits := make([]hit, len(m.ids))
	for i := range m.ids {
		hits[i] = hit{m.ids[i], m.score(q, m.vecs[i])}
	}
	sort.SliceStable(hits, func(a, b int) bool { return m.better(hits[a].dist, hits[b].dist) })
	return hits[:min(k, len(hits))]
}

// remove drops ids from the model; a flat index renumbers the survivors.
func (m *model) remove(ids []int64, renumber bool) {
	var keepIDs []int64
	var keepVecs [][]float32
	for i, id := range m.ids {
		if !slices.Contains(ids, id) {
			keepIDs = append(keepIDs, id)
			keepVecs = append(keepVecs, m.vecs[i])
		}
	}
	if renumber {
		for i := range keepIDs {
			keepIDs[i] = int64(i)
		}
	}
	m.ids, m.vecs = keepIDs, keepVecs
}

// fill adds n random vectors to x and returns the model of its contents. An
// IDMap index gets sparse ids so that label translation is exercised.
func fill(tb testing.TB, x *Index, r *rand.Rand, n int) *model {
	tb.Helper()
	vecs := randVecs(r, n, x.Dim())
	m := &model{dim: x.Dim(), metric: x.Metric()}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(i)
		if x.Kind() == KindIDMap {
			ids[i] = 1000 + 7*int64(i)
		}
		m.ids = append(m.ids, ids[i])
		m.vecs = append(m.vecs, vecs[i*x.Dim():(i+1)*x.Dim()])
	}
	var err error
	if x.Kind() == KindIDMap {
		err = x.AddWithIDs(vecs, ids)
	} else {
		err = x.Add(vecs)
	}
	if err != nil {
		tb.Fatalf("fill: %v", err)
	}
	if x.Len() != n {
		tb.Fatalf("fill: Len = %d, want %d", x.Len(), n)
	}
	return m
}

// checkExact holds one query's results against the brute force: the same ids
// in the same order (a different id only on a near-tie, i.e. at the same
// distance), distances within tolerance, -1 past the end of the index.
func checkExact(t *testing.T, m *model, q []float32, k int, dist []float32, labels []int64) {
	t.Helper()
	want := m.knn(q, k)
	seen := map[int64]bool{}
	for j := 0; j < k; j++ {
		if j >= len(want) {
			if labels[j] != -1 {
				t.Fatalf("result %d: label %d past the %d vectors, want -1", j, labels[j], len(want))
			}
			continue
		}
		if seen[labels[j]] {
			t.Fatalf("result %d: label %d repeated", j, labels[j])
		}
		seen[labels[j]] = true
		if !near(float64(dist[j]), want[j].dist) {
			t.Fatalf("result %d: distance %v, brute force %v", j, dist[j], want[j].dist)
		}
		if labels[j] != want[j].id {
			i := m.find(labels[j])
			if i < 0 || !near(m.score(q, m.vecs[i]), want[j].dist) {
				t.Fatalf("result %d: label %d, brute force %d (distance %v)", j, labels[j], want[j].id, want[j].dist)
			}
		}
	}
}

// recall is the fraction of the brute-force top k found in labels; it also
// checks that every returned distance is the true one of its label.
func recall(t *testing.T, m *model, q []float32, k int, dist []float32, labels []int64) (found, total int) {
	t.Helper()
	want := m.knn(q, k)
	for j := range want {
		if slices.Contains(labels[:k], want[j].id) {
			found++
		}
	}
	for j := 0; j < k; j++ {
		if labels[j] < 0 {
			continue
		}
		i := m.find(labels[j])
		if i < 0 {
			t.Fatalf("result %d: label %d not in the index", j, labels[j])
		}
		if d := m.score(q, m.vecs[i]); !near(float64(dist[j]), d) {
			t.Fatalf("result %d: distance %v, true %v", j, dist[j], d)
		}
	}
	return found, len(want)
}

// checkAll searches every query in one batch and holds the answers against
// the model: exactly for flat and IDMap, by recall >= 0.95 for HNSW.
func checkAll(t *testing.T, c kindCase, x *Index, m *model, queries []float32, k int) {
	t.Helper()
	dist, labels, err := x.Search(queries, k)
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	n := len(queries) / x.Dim()
	if len(dist) != n*k || len(labels) != n*k {
		t.Fatalf("search: %d distances and %d labels for %d×%d", len(dist), len(labels), n, k)
	}
	var found, total int
	for i := 0; i < n; i++ {
		q := queries[i*x.Dim() : (i+1)*x.Dim()]
		d, l := dist[i*k:(i+1)*k], labels[i*k:(i+1)*k]
		if c.exact {
			checkExact(t, m, q, k, d, l)
		} else {
			f, tt := recall(t, m, q, k, d, l)
			found, total = found+f, total+tt
		}
	}
	if !c.exact && total > 0 {
		if r := float64(found) / float64(total); r < 0.95 {
			t.Fatalf("recall %.3f < 0.95", r)
		}
	}
}

func TestSearchMatchesBruteForce(t *testing.T) {
	for _, c := range kindCases {
		for _, dim := range []int{16, 31} {
			t.Run(c.name, func(t *testing.T) {
				r := rand.New(rand.NewPCG(1, uint64(dim)))
				x := newFor(t, c, dim)
				m := fill(t, x, r, 400)
				// 32 queries take FAISS's BLAS path (20 or more at once).
				queries := randVecs(r, 32, dim)
				for _, k := range []int{1, 5, 20} {
					checkAll(t, c, x, m, queries, k)
				}
				// Queries equal to stored vectors find themselves first.
				for _, i := range []int{0, 17, 399} {
					dist, labels, err := x.Search(m.vecs[i], 1)
					if err != nil {
						t.Fatal(err)
					}
					if c.metric == L2 && (labels[0] != m.ids[i] || dist[0] > 1e-4) {
						t.Fatalf("self search of %d: label %d distance %v", m.ids[i], labels[0], dist[0])
					}
				}
			})
		}
	}
}

func TestFewerThanK(t *testing.T) {
	for _, c := range kindCases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(2, 0))
			x := newFor(t, c, 8)
			// One query takes FAISS's direct path, 25 its BLAS path.
			queries := randVecs(r, 25, 8)
			check := func(m *model) {
				t.Helper()
				for _, nq := range []int{1, 25} {
					dist, labels, err := x.Search(queries[:nq*8], 5)
					if err != nil {
						t.Fatal(err)
					}
					for i := 0; i < nq; i++ {
						d, l := dist[i*5:(i+1)*5], labels[i*5:(i+1)*5]
						for j := len(m.ids); j < 5; j++ {
							if l[j] != -1 || d[j] != MissingDistance(c.metric) {
								t.Fatalf("%d queries, result %d of %d vectors: label %d distance %v",
									nq, j, len(m.ids), l[j], d[j])
							}
						}
						checkExact(t, m, queries[i*8:(i+1)*8], 5, d, l)
					}
				}
			}
			check(&model{dim: 8, metric: c.metric}) // empty index
			check(fill(t, x, r, 3))
		})
	}
}

func TestBatchEqualsOneByOne(t *testing.T) {
	for _, c := range kindCases {
		t.Run(c.name, func(t *testing.T) {
			const dim, k, nq = 24, 5, 40
			r := rand.New(rand.NewPCG(3, 0))
			x := newFor(t, c, dim)
			m := fill(t, x, r, 300)
			queries := randVecs(r, nq, dim)
			bd, bl, err := x.Search(queries, k)
			if err != nil {
				t.Fatal(err)
			}
			dist, labels := make([]float32, k), make([]int64, k)
			for i := 0; i < nq; i++ {
				if err := x.SearchInto(queries[i*dim:(i+1)*dim], k, dist, labels); err != nil {
					t.Fatal(err)
				}
				for j := 0; j < k; j++ {
					bj := i*k + j
					if !near(float64(dist[j]), float64(bd[bj])) {
						t.Fatalf("query %d result %d: distance %v alone, %v in batch", i, j, dist[j], bd[bj])
					}
					if labels[j] == bl[bj] {
						continue
					}
					// The batch may use BLAS and order a near-tie differently.
					if !c.exact {
						t.Fatalf("query %d result %d: label %d alone, %d in batch", i, j, labels[j], bl[bj])
					}
					q := queries[i*dim : (i+1)*dim]
					a, b := m.find(labels[j]), m.find(bl[bj])
					if a < 0 || b < 0 || !near(m.score(q, m.vecs[a]), m.score(q, m.vecs[b])) {
						t.Fatalf("query %d result %d: label %d alone, %d in batch", i, j, labels[j], bl[bj])
					}
				}
			}
		})
	}
}

func TestRemoveIDs(t *testing.T) {
	for _, c := range kindCases {
		t.Run(c.name, func(t *testing.T) {
			const dim = 12
			r := rand.New(rand.NewPCG(4, 0))
			x := newFor(t, c, dim)
			m := fill(t, x, r, 200)
			var remove []int64
			for i := 0; i < len(m.ids); i += 3 {
				remove = append(remove, m.ids[i])
			}
			remove = append(remove, 999_999) // absent: ignored
			n, err := x.RemoveIDs(remove)
			if c.kind == KindHNSW {
				// FAISS's IndexHNSW does not implement remove_ids: its
				// exception must come back as an error, the index intact.
				if !errors.Is(err, ErrFaiss) {
					t.Fatalf("remove on HNSW: %v, want ErrFaiss", err)
				}
				var fe *FaissError
				if !errors.As(err, &fe) || fe.Msg == "" {
					t.Fatalf("remove on HNSW: %v carries no FAISS message", err)
				}
				if x.Len() != 200 {
					t.Fatalf("Len after failed remove = %d", x.Len())
				}
				checkAll(t, c, x, m, randVecs(r, 10, dim), 5)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != len(remove)-1 {
				t.Fatalf("removed %d, want %d", n, len(remove)-1)
			}
			removedVecs := make([][]float32, 0, len(remove))
			for _, id := range remove[:len(remove)-1] {
				removedVecs = append(removedVecs, m.vecs[m.find(id)])
			}
			m.remove(remove, c.kind == KindFlat)
			if x.Len() != len(m.ids) {
				t.Fatalf("Len = %d, want %d", x.Len(), len(m.ids))
			}
			queries := randVecs(r, 30, dim)
			checkAll(t, c, x, m, queries, 10)
			// Searching for a removed vector itself never finds it.
			for _, v := range removedVecs {
				dist, labels, err := x.Search(v, 10)
				if err != nil {
					t.Fatal(err)
				}
				for j, l := range labels {
					if c.kind == KindIDMap && slices.Contains(remove, l) {
						t.Fatalf("search returned removed id %d", l)
					}
					if c.metric == L2 && dist[j] < 1e-6 {
						t.Fatalf("search found a removed vector at label %d", l)
					}
				}
			}
			if c.kind == KindIDMap {
				err := x.Reconstruct(remove[0], make([]float32, dim))
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("reconstruct removed id: %v, want ErrNotFound", err)
				}
			}
			if n, err := x.RemoveIDs(nil); n != 0 || err != nil {
				t.Fatalf("remove nothing: %d, %v", n, err)
			}
		})
	}
}

func TestReconstruct(t *testing.T) {
	for _, c := range kindCases {
		t.Run(c.name, func(t *testing.T) {
			const dim = 9
			r := rand.New(rand.NewPCG(5, 0))
			x := newFor(t, c, dim)
			m := fill(t, x, r, 50)
			got := make([]float32, dim)
			for i, id := range m.ids {
				if err := x.Reconstruct(id, got); err != nil {
					t.Fatalf("reconstruct %d: %v", id, err)
				}
				if !slices.Equal(got, m.vecs[i]) {
					t.Fatalf("reconstruct %d: %v, added %v", id, got, m.vecs[i])
				}
			}
			for _, id := range []int64{-1, 50, 1001, math.MaxInt64} {
				if err := x.Reconstruct(id, got); !errors.Is(err, ErrNotFound) {
					t.Fatalf("reconstruct absent %d: %v, want ErrNotFound", id, err)
				}
			}
		})
	}
}

func TestSerializeRoundTrip(t *testing.T) {
	for _, c := range kindCases {
		for _, n := range []int{0, 1, 150} {
			t.Run(c.name, func(t *testing.T) {
				const dim = 20
				r := rand.New(rand.NewPCG(6, uint64(n)))
				x := newFor(t, c, dim)
				m := &model{dim: dim, metric: c.metric}
				if n > 0 {
					m = fill(t, x, r, n)
				}
				if c.kind == KindHNSW {
					if err := x.SetEfSearch(80); err != nil {
						t.Fatal(err)
					}
				}
				b, err := x.Serialize()
				if err != nil {
					t.Fatal(err)
				}
				y, err := Deserialize(b)
				if err != nil {
					t.Fatalf("deserialize: %v", err)
				}
				defer y.Close()
				if y.Kind() != c.kind || y.Metric() != c.metric || y.Dim() != dim || y.Len() != n {
					t.Fatalf("round trip: %v/%v/%d/%d", y.Kind(), y.Metric(), y.Dim(), y.Len())
				}
				queries := randVecs(r, 25, dim)
				d1, l1, err := x.Search(queries, 5)
				if err != nil {
					t.Fatal(err)
				}
				d2, l2, err := y.Search(queries, 5)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(l1, l2) || !slices.Equal(d1, d2) {
					t.Fatalf("round trip changed the answers")
				}
				if n > 0 {
					checkAll(t, c, y, m, queries, 5)
				}
				b2, err := y.Serialize()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, b2) {
					t.Fatalf("serialize after deserialize differs")
				}
				// The copy is independent and fully usable.
				if c.kind == KindIDMap {
					err = y.AddWithIDs(randVecs(r, 1, dim), []int64{5})
				} else {
					err = y.Add(randVecs(r, 1, dim))
				}
				if err != nil || y.Len() != n+1 || x.Len() != n {
					t.Fatalf("add to copy: %v, lengths %d and %d", err, y.Len(), x.Len())
				}
			})
		}
	}
}

func TestShapeErrors(t *testing.T) {
	// Several cases pass empty or short buffers: had they reached the cgo
	// layer, taking &buf[0] would panic, so passing shows the check came first.
	flat := newFor(t, kindCases[0], 4)
	idmap := newFor(t, kindCases[2], 4)
	if err := flat.Add(make([]float32, 8)); err != nil {
		t.Fatal(err)
	}
	five := make([]float32, 5)
	tests := []struct {
		name string
		call func() error
	}{
		{"add length not a multiple", func() error { return flat.Add(five) }},
		{"add with ids length", func() error { return idmap.AddWithIDs(five, []int64{1}) }},
		{"add with too few ids", func() error { return idmap.AddWithIDs(make([]float32, 8), []int64{1}) }},
		{"add with too many ids", func() error { return idmap.AddWithIDs(make([]float32, 4), []int64{1, 2}) }},
		{"add with ids but no vectors", func() error { return idmap.AddWithIDs(nil, []int64{1}) }},
		{"search length", func() error { _, _, err := flat.Search(five, 1); return err }},
		{"search short", func() error { _, _, err := flat.Search(make([]float32, 3), 1); return err }},
		{"search k = 0", func() error { _, _, err := flat.Search(make([]float32, 4), 0); return err }},
		{"search k < 0", func() error { _, _, err := flat.Search(make([]float32, 4), -3); return err }},
		{"search k huge", func() error { _, _, err := flat.Search(make([]float32, 4), math.MaxInt); return err }},
		{"search into length", func() error {
			return flat.SearchInto(five, 1, make([]float32, 1), make([]int64, 1))
		}},
		{"search into k = 0", func() error { return flat.SearchInto(make([]float32, 4), 0, nil, nil) }},
		{"search into empty buffers", func() error { return flat.SearchInto(make([]float32, 4), 2, nil, nil) }},
		{"search into short dist", func() error {
			return flat.SearchInto(make([]float32, 4), 2, make([]float32, 1), make([]int64, 2))
		}},
		{"search into short labels", func() error {
			return flat.SearchInto(make([]float32, 4), 2, make([]float32, 2), make([]int64, 1))
		}},
		{"search into long buffers", func() error {
			return flat.SearchInto(make([]float32, 4), 2, make([]float32, 3), make([]int64, 3))
		}},
		{"search into buffers for one query, two given", func() error {
			return flat.SearchInto(make([]float32, 8), 2, make([]float32, 2), make([]int64, 2))
		}},
		{"reconstruct empty buffer", func() error { return flat.Reconstruct(0, nil) }},
		{"reconstruct short buffer", func() error { return flat.Reconstruct(0, make([]float32, 3)) }},
		{"reconstruct long buffer", func() error { return idmap.Reconstruct(0, five) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrDimension) {
				t.Fatalf("got %v, want ErrDimension", err)
			}
		})
	}
	if flat.Len() != 2 || idmap.Len() != 0 {
		t.Fatalf("rejected calls changed the indexes: %d, %d", flat.Len(), idmap.Len())
	}
	// Empty batches are valid and do nothing.
	if err := flat.Add(nil); err != nil {
		t.Fatal(err)
	}
	if err := idmap.AddWithIDs(nil, nil); err != nil {
		t.Fatal(err)
	}
	if d, l, err := flat.Search(nil, 3); err != nil || len(d) != 0 || len(l) != 0 {
		t.Fatalf("empty search: %v %v %v", d, l, err)
	}
	if err := flat.SearchInto(nil, 3, nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestArgumentErrors(t *testing.T) {
	flat := newFor(t, kindCases[0], 4)
	idmap := newFor(t, kindCases[2], 4)
	hnsw := newFor(t, kindCases[4], 4)
	nan := []float32{0, float32(math.NaN()), 0, 0}
	inf := []float32{0, 0, float32(math.Inf(-1)), 0}
	if err := idmap.AddWithIDs([]float32{1, 2, 3, 4}, []int64{7}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"new dim 0", second(NewFlat(0, L2)), ErrDimension},
		{"new dim too large", second(NewIDMap(MaxDim+1, L2)), ErrDimension},
		{"new bad metric", second(NewFlat(4, Metric(7))), ErrInvalidArgument},
		{"new hnsw neighbors 1", second(NewHNSW(4, 1, L2)), ErrInvalidArgument},
		{"new hnsw neighbors too many", second(NewHNSW(4, MaxHNSWNeighbors+1, L2)), ErrInvalidArgument},
		{"add NaN", flat.Add(nan), ErrNonFinite},
		{"add Inf", hnsw.Add(inf), ErrNonFinite},
		{"add with ids NaN", idmap.AddWithIDs(nan, []int64{1}), ErrNonFinite},
		{"search NaN", third(flat.Search(nan, 1)), ErrNonFinite},
		{"search into Inf", flat.SearchInto(inf, 1, make([]float32, 1), make([]int64, 1)), ErrNonFinite},
		{"add to idmap", idmap.Add(make([]float32, 4)), ErrUnsupported},
		{"add with ids to flat", flat.AddWithIDs(make([]float32, 4), []int64{1}), ErrUnsupported},
		{"add with ids to hnsw", hnsw.AddWithIDs(make([]float32, 4), []int64{1}), ErrUnsupported},
		{"negative id", idmap.AddWithIDs(make([]float32, 4), []int64{-1}), ErrInvalidID},
		{"id already present", idmap.AddWithIDs(make([]float32, 8), []int64{8, 7}), ErrDuplicateID},
		{"id repeated in batch", idmap.AddWithIDs(make([]float32, 8), []int64{9, 9}), ErrDuplicateID},
		{"ef on flat", flat.SetEfSearch(10), ErrUnsupported},
		{"ef 0", hnsw.SetEfSearch(0), ErrInvalidArgument},
		{"ef too large", hnsw.SetEfSearch(MaxEfSearch + 1), ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) {
				t.Fatalf("got %v, want %v", tt.err, tt.want)
			}
		})
	}
	if flat.Len() != 0 || hnsw.Len() != 0 || idmap.Len() != 1 {
		t.Fatalf("rejected calls changed the indexes: %d, %d, %d", flat.Len(), hnsw.Len(), idmap.Len())
	}
}

func second[T any](_ T, err error) error { return err }

func third[A, B any](_ A, _ B, err error) error { return err }

// TestFaissExceptionsBecomeErrors calls the cgo layer directly, past the Go
// checks, with operations FAISS itself refuses by throwing.
func TestFaissExceptionsBecomeErrors(t *testing.T) {
	idmap := newFor(t, kindCases[2], 4)
	flat := newFor(t, kindCases[0], 4)
	v := []float32{1, 2, 3, 4}
	tests := []struct {
		name string
		err  error
	}{
		{"IndexIDMap2::add", idmap.h.add(1, v)},
		{"IndexFlat::add_with_ids", flat.h.addWithIDs(1, v, []int64{3})},
		{"read_index of a truncated flat index", third(cDeserializeErr([]byte("IxF2\x04\x00")))},
		{"read_index of an unknown type", third(cDeserializeErr([]byte("XXXXgarbage")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fe *FaissError
			if !errors.As(tt.err, &fe) || !errors.Is(tt.err, ErrFaiss) || fe.Msg == "" {
				t.Fatalf("got %v, want a *FaissError with FAISS's text", tt.err)
			}
			t.Logf("%v", tt.err)
		})
	}
	// Trailing bytes after a valid index: refused by the shim, not FAISS.
	b, err := flat.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cDeserializeErr(append(b, 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte: %v, want ErrCorrupt", err)
	}
}

// cDeserializeErr calls cDeserialize and frees what it returns.
func cDeserializeErr(b []byte) (Kind, int, error) {
	h, kind, dim, _, err := cDeserialize(b)
	if err == nil {
		h.free()
	}
	return kind, dim, err
}

func TestDeserializeRejectsGarbage(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 0))
	real := map[string][]byte{}
	for _, c := range kindCases {
		x := newFor(t, c, 3)
		fill(t, x, r, 6)
		b, err := x.Serialize()
		if err != nil {
			t.Fatal(err)
		}
		real[c.name] = b
	}
	var inputs [][]byte
	inputs = append(inputs, nil, []byte{}, []byte("I"), []byte("IxF2"), []byte("IxPQ"+strings.Repeat("\x00", 64)))
	for range 20 {
		g := make([]byte, r.IntN(200))
		for i := range g {
			g[i] = byte(r.UintN(256))
		}
		inputs = append(inputs, g)
	}
	for _, b := range real {
		// Every proper prefix (truncation at every byte).
		for n := 0; n < len(b); n++ {
			inputs = append(inputs, b[:n])
		}
		inputs = append(inputs, append(slices.Clone(b), 0))
	}
	for _, in := range inputs {
		x, err := Deserialize(in)
		if err == nil {
			x.Close()
			t.Fatalf("Deserialize accepted %d bytes %q", len(in), in)
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Deserialize error %v does not wrap ErrCorrupt", err)
		}
	}
	// Single flipped bits either are rejected or give an index that works
	// (e.g. a changed vector component).
	for name, b := range real {
		for i := range b {
			for _, bit := range []byte{0x01, 0x80} {
				in := slices.Clone(b)
				in[i] ^= bit
				x, err := Deserialize(in)
				if err != nil {
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("%s byte %d: error %v does not wrap ErrCorrupt", name, i, err)
					}
					continue
				}
				exercise(t, x, in)
				x.Close()
			}
		}
	}
}

// exercise runs every read and write operation on a deserialized index and
// checks that it serializes back to its input.
func exercise(t *testing.T, x *Index, in []byte) {
	t.Helper()
	out, err := x.Serialize()
	if err != nil {
		t.Fatalf("serialize: %v", err)
	}
	if !bytes.Equal(out, in) {
		t.Fatalf("accepted input does not serialize back to itself")
	}
	q := make([]float32, x.Dim())
	for i := range q {
		q[i] = float32(i%3) - 1
	}
	if _, _, err := x.Search(q, 4); err != nil {
		t.Fatalf("search: %v", err)
	}
	if x.Len() > 0 {
		if err := x.Reconstruct(0, q); err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatalf("reconstruct: %v", err)
		}
	}
	if x.Kind() == KindIDMap {
		err = x.AddWithIDs(q, []int64{math.MaxInt64})
		if err != nil && !errors.Is(err, ErrDuplicateID) {
			t.Fatalf("add with ids: %v", err)
		}
	} else if err := x.Add(q); err != nil {
		t.Fatalf("add: %v", err)
	}
	if _, _, err := x.Search(q, 4); err != nil {
		t.Fatalf("search after add: %v", err)
	}
}

func TestReset(t *testing.T) {
	for _, c := range kindCases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(8, 0))
			x := newFor(t, c, 6)
			fill(t, x, r, 30)
			if err := x.Reset(); err != nil {
				t.Fatal(err)
			}
			if x.Len() != 0 {
				t.Fatalf("Len after reset = %d", x.Len())
			}
			_, labels, err := x.Search(randVecs(r, 1, 6), 3)
			if err != nil || !slices.Equal(labels, []int64{-1, -1, -1}) {
				t.Fatalf("search after reset: %v %v", labels, err)
			}
			// No id of before the reset is found any more.
			for _, id := range []int64{0, 1000} {
				if err := x.Reconstruct(id, make([]float32, 6)); !errors.Is(err, ErrNotFound) {
					t.Fatalf("reconstruct %d after reset: %v, want ErrNotFound", id, err)
				}
			}
			// The same ids can be used again.
			m := fill(t, x, r, 30)
			checkAll(t, c, x, m, randVecs(r, 5, 6), 3)
		})
	}
}

func TestClose(t *testing.T) {
	for _, c := range kindCases {
		t.Run(c.name, func(t *testing.T) {
			x := newFor(t, c, 4)
			fill(t, x, rand.New(rand.NewPCG(9, 0)), 5)
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
			if err := x.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			v := make([]float32, 4)
			errs := map[string]error{
				"Add":         x.Add(v),
				"AddWithIDs":  x.AddWithIDs(v, []int64{1}),
				"RemoveIDs":   second(x.RemoveIDs([]int64{1})),
				"Reconstruct": x.Reconstruct(0, v),
				"Search":      third(x.Search(v, 1)),
				"SearchInto":  x.SearchInto(v, 1, make([]float32, 1), make([]int64, 1)),
				"Reset":       x.Reset(),
				"SetEfSearch": x.SetEfSearch(10),
				"Serialize":   second(x.Serialize()),
			}
			for name, err := range errs {
				if !errors.Is(err, ErrClosed) {
					t.Errorf("%s after Close: %v, want ErrClosed", name, err)
				}
			}
			if x.Len() != 0 || x.Dim() != 4 {
				t.Fatalf("after Close: Len %d, Dim %d", x.Len(), x.Dim())
			}
		})
	}
}

// TestCloseRacesSearch: Close while other goroutines search must not crash;
// each search either completes or reports ErrClosed.
func TestCloseRacesSearch(t *testing.T) {
	for _, c := range kindCases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(10, 0))
			x := newFor(t, c, 16)
			fill(t, x, r, 200)
			q := randVecs(r, 1, 16)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 4 {
				wg.Go(func() {
					<-start
					dist, labels := make([]float32, 5), make([]int64, 5)
					for range 200 {
						err := x.SearchInto(q, 5, dist, labels)
						if errors.Is(err, ErrClosed) {
							return
						}
						if err != nil {
							t.Errorf("search: %v", err)
							return
						}
					}
				})
			}
			close(start)
			runtime.Gosched()
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
		})
	}
}

func TestSearchIntoAllocatesNothing(t *testing.T) {
	for _, c := range kindCases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(11, 0))
			x := newFor(t, c, 31)
			fill(t, x, r, 400)
			q := randVecs(r, 1, 31)
			dist, labels := make([]float32, 5), make([]int64, 5)
			allocs := testing.AllocsPerRun(200, func() {
				if err := x.SearchInto(q, 5, dist, labels); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("SearchInto allocates %v times per call", allocs)
			}
		})
	}
}

// TestOpenMPSingleThreaded: OpenMP's thread count is per OS thread, so the
// shim must set it on whatever thread a search runs on, not only at init.
func TestOpenMPSingleThreaded(t *testing.T) {
	x := newFor(t, kindCases[4], 8)
	fill(t, x, rand.New(rand.NewPCG(12, 0)), 50)
	q := make([]float32, 8)
	for range 8 {
		done := make(chan int)
		go func() {
			// Lock the goroutine so both calls run on the same OS thread; the
			// runtime may give it a thread that never called FAISS before.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if _, _, err := x.Search(q, 3); err != nil {
				t.Error(err)
			}
			done <- ompMaxThreads()
		}()
		if n := <-done; n != 1 {
			t.Fatalf("omp_get_max_threads() = %d on a thread that searched, want 1", n)
		}
	}
}
