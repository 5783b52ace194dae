package index

import (
	"encoding/binary"
	"fmt"
	"math"
)

// validateSerialized walks bytes in the layout FAISS 1.7.3's write_index
// produces for the three kinds this package builds, before FAISS's read_index
// sees them. FAISS trusts its input: a length field makes it resize a vector
// (zero-filling it) before it finds out the data is short, and it does not
// check HNSW links, so a damaged graph would be searched out of bounds. Here
// every length must fit in the bytes that remain, every id and link must be in
// range, and every field must have the value write_index gives it, so that
// what passes is exactly what Serialize can write (and Serialize of the result
// gives back the same bytes).
//
// FAISS writes in host byte order, so the fields are read in native order
// (serialized indexes move between machines of the same byte order only).
//
// Layout (fields in order; vec<T> is a uint64 count then the elements):
//
//	header: d int32, ntotal int64, 1<<20 int64, 1<<20 int64, is_trained uint8,
//	        metric int32 (1 = L2, 0 = inner product)
//	flat:   "IxF2" (L2) or "IxFI" (IP), header, vec<float32> codes (count in floats)
//	idmap:  "IxM2", header, flat, vec<int64> ids
//	hnsw:   "IHNf", header, vec<float64> assign_probas, vec<int32>
//	        cum_nneighbor_per_level, vec<int32> levels, vec<uint64> offsets,
//	        vec<int32> neighbors, entry_point int32, max_level int32,
//	        efConstruction int32, efSearch int32, upper_beam int32, flat storage
func validateSerialized(b []byte) (serialInfo, error) {
	d := &decoder{b: b}
	var info serialInfo
	switch fc := d.peekFourcc(); fc {
	case fourccFlatL2, fourccFlatIP:
		h := d.flat()
		info = serialInfo{kind: KindFlat, dim: h.dim, metric: h.metric}
	case fourccIDMap2:
		d.take(4)
		h := d.idmap()
		info = serialInfo{kind: KindIDMap, dim: h.dim, metric: h.metric}
	case fourccHNSWFlat:
		d.take(4)
		h := d.hnsw()
		info = serialInfo{kind: KindHNSW, dim: h.dim, metric: h.metric}
	default:
		d.fail("index type %q is not one this package writes", fc)
	}
	if d.err == nil && d.off != len(b) {
		d.fail("%d trailing bytes after the index", len(b)-d.off)
	}
	if d.err != nil {
		return serialInfo{}, d.err
	}
	return info, nil
}

const (
	fourccFlatL2   = "IxF2"
	fourccFlatIP   = "IxFI"
	fourccIDMap2   = "IxM2"
	fourccHNSWFlat = "IHNf"

	// headerDummy is written twice by FAISS's write_index_header.
	headerDummy = 1 << 20
	// maxHNSWLevels bounds assign_probas (FAISS's default probabilities for
	// M >= 2 stop well below this).
	maxHNSWLevels = 64
	// maxCumNeighbors bounds the links of one node over all its levels.
	maxCumNeighbors = 1 << 20
)

type serialInfo struct {
	kind   Kind
	dim    int
	metric Metric
}

type header struct {
	dim    int
	ntotal int64
	metric Metric
}

// decoder reads native-order fields and keeps the first error; once it has
// failed every read returns zero values.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("at byte %d: "+format, append([]any{d.off}, args...)...)
	}
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.remaining() {
		d.fail("truncated: %d bytes needed, %d left", n, d.remaining())
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) peekFourcc() string {
	if d.remaining() < 4 {
		return ""
	}
	return string(d.b[d.off : d.off+4])
}

func (d *decoder) fourcc() string {
	p := d.take(4)
	if p == nil {
		return ""
	}
	return string(p)
}

func (d *decoder) u8() uint8 {
	p := d.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *decoder) i32() int32 {
	p := d.take(4)
	if p == nil {
		return 0
	}
	return int32(binary.NativeEndian.Uint32(p))
}

func (d *decoder) i64() int64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return int64(binary.NativeEndian.Uint64(p))
}

// count reads a vector length and checks that count elements of elem bytes
// remain in the input.
func (d *decoder) count(elem int, what string) int {
	p := d.take(8)
	if p == nil {
		return 0
	}
	n := binary.NativeEndian.Uint64(p)
	if n > uint64(d.remaining()/elem) {
		d.fail("%s: %d elements of %d bytes, only %d bytes left", what, n, elem, d.remaining())
		return 0
	}
	return int(n)
}

func (d *decoder) int32s(what string) []int32 {
	n := d.count(4, what)
	p := d.take(4 * n)
	if p == nil {
		return nil
	}
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(binary.NativeEndian.Uint32(p[4*i:]))
	}
	return out
}

func (d *decoder) header() header {
	dim := d.i32()
	ntotal := d.i64()
	dummy1, dummy2 := d.i64(), d.i64()
	trained := d.u8()
	metric := d.i32()
	if d.err != nil {
		return header{}
	}
	switch {
	case dim < 1 || dim > MaxDim:
		d.fail("dimension %d outside 1..%d", dim, MaxDim)
	case ntotal < 0 || ntotal > int64(len(d.b)):
		// Every vector takes at least 4 bytes, so ntotal cannot exceed the input.
		d.fail("ntotal %d out of range", ntotal)
	case dummy1 != headerDummy || dummy2 != headerDummy:
		d.fail("header fields %d, %d, expected %d", dummy1, dummy2, headerDummy)
	case trained != 1:
		d.fail("is_trained = %d, expected 1", trained)
	case metric != 0 && metric != 1:
		d.fail("metric %d is neither L2 nor inner product", metric)
	}
	m := L2
	if metric == 0 {
		m = InnerProduct
	}
	return header{dim: int(dim), ntotal: ntotal, metric: m}
}

// flat checks an IndexFlatL2 / IndexFlatIP with its fourcc.
func (d *decoder) flat() header {
	fc := d.fourcc()
	want := L2
	switch fc {
	case fourccFlatL2:
	case fourccFlatIP:
		want = InnerProduct
	default:
		d.fail("expected a flat index, found %q", fc)
		return header{}
	}
	h := d.header()
	if d.err == nil && h.metric != want {
		d.fail("%s index with metric %v", fc, h.metric)
	}
	n := d.count(4, "flat codes")
	if d.err == nil && uint64(n) != uint64(h.ntotal)*uint64(h.dim) {
		d.fail("flat codes hold %d floats, expected %d × %d", n, h.ntotal, h.dim)
	}
	p := d.take(4 * n)
	for i := 0; i+4 <= len(p); i += 4 {
		v := math.Float32frombits(binary.NativeEndian.Uint32(p[i:]))
		if v-v != 0 {
			d.fail("vector %d has a NaN or infinite component", i/4/h.dim)
			break
		}
	}
	return h
}

func (d *decoder) idmap() header {
	h := d.header()
	inner := d.flat()
	if d.err == nil && inner != h {
		d.fail("id map %+v over flat index %+v", h, inner)
	}
	n := d.count(8, "id map")
	if d.err == nil && int64(n) != h.ntotal {
		d.fail("%d ids for %d vectors", n, h.ntotal)
	}
	p := d.take(8 * n)
	if p == nil {
		return h
	}
	seen := make(map[int64]struct{}, n)
	for i := 0; i < n; i++ {
		id := int64(binary.NativeEndian.Uint64(p[8*i:]))
		if id < 0 {
			d.fail("negative id %d", id)
			break
		}
		if _, dup := seen[id]; dup {
			d.fail("duplicate id %d", id)
			break
		}
		seen[id] = struct{}{}
	}
	return h
}

func (d *decoder) hnsw() header {
	h := d.header()
	if d.err == nil && h.ntotal > math.MaxInt32 {
		d.fail("ntotal %d exceeds HNSW's 32-bit ids", h.ntotal)
	}
	nprob := d.count(8, "assign_probas")
	probas := d.take(8 * nprob)
	if d.err == nil && (nprob < 1 || nprob > maxHNSWLevels) {
		d.fail("%d levels outside 1..%d", nprob, maxHNSWLevels)
	}
	for i := 0; i+8 <= len(probas) && d.err == nil; i += 8 {
		p := math.Float64frombits(binary.NativeEndian.Uint64(probas[i:]))
		if !(p >= 0 && p <= 1) {
			d.fail("level probability %v outside [0, 1]", p)
		}
	}
	cum := d.int32s("cum_nneighbor_per_level")
	if d.err == nil {
		if len(cum) != nprob+1 || cum[0] != 0 {
			d.fail("cum_nneighbor_per_level has %d entries, expected %d starting at 0", len(cum), nprob+1)
		}
		for i := 1; i < len(cum) && d.err == nil; i++ {
			if cum[i] < cum[i-1] || cum[i] > maxCumNeighbors {
				d.fail("cum_nneighbor_per_level not increasing or too large at %d", i)
			}
		}
	}
	levels := d.int32s("levels")
	if d.err == nil && int64(len(levels)) != h.ntotal {
		d.fail("%d levels for %d vectors", len(levels), h.ntotal)
	}
	var topLevel int32
	for i, l := range levels {
		if d.err != nil {
			break
		}
		if l < 1 || int(l) > nprob {
			d.fail("node %d on %d levels, outside 1..%d", i, l, nprob)
		}
		topLevel = max(topLevel, l)
	}
	noff := d.count(8, "offsets")
	offs := d.take(8 * noff)
	if d.err == nil && int64(noff) != h.ntotal+1 {
		d.fail("%d offsets for %d vectors", noff, h.ntotal)
	}
	offsets := make([]uint64, 0, noff)
	for i := 0; d.err == nil && i < noff; i++ {
		o := binary.NativeEndian.Uint64(offs[8*i:])
		switch {
		case i == 0 && o != 0:
			d.fail("first offset %d, expected 0", o)
		case i > 0 && o != offsets[i-1]+uint64(cum[levels[i-1]]):
			d.fail("offset of node %d inconsistent with its levels", i)
		}
		offsets = append(offsets, o)
	}
	neighbors := d.int32s("neighbors")
	if d.err == nil && uint64(len(neighbors)) != offsets[len(offsets)-1] {
		d.fail("%d links, offsets need %d", len(neighbors), offsets[len(offsets)-1])
	}
	// Each link of node i on level l must name a node that exists on level l,
	// since the search reads that node's links on the same level.
	for i := 0; i < len(levels) && d.err == nil; i++ {
		for l := int32(0); l < levels[i] && d.err == nil; l++ {
			lo, hi := offsets[i]+uint64(cum[l]), offsets[i]+uint64(cum[l+1])
			for _, nb := range neighbors[lo:hi] {
				if nb < -1 || int64(nb) >= h.ntotal || (nb >= 0 && levels[nb] <= l) {
					d.fail("node %d level %d links to %d", i, l, nb)
					break
				}
			}
		}
	}
	entry, maxLevel := d.i32(), d.i32()
	efConstruction, efSearch, upperBeam := d.i32(), d.i32(), d.i32()
	if d.err == nil {
		switch {
		case h.ntotal == 0 && (entry != -1 || maxLevel != -1):
			d.fail("empty graph with entry point %d, max level %d", entry, maxLevel)
		case h.ntotal > 0 && (entry < 0 || int64(entry) >= h.ntotal):
			d.fail("entry point %d out of range", entry)
		case h.ntotal > 0 && (maxLevel != levels[entry]-1 || maxLevel != topLevel-1):
			d.fail("max level %d inconsistent with the levels", maxLevel)
		case efConstruction < 1 || efConstruction > MaxEfSearch:
			d.fail("efConstruction %d outside 1..%d", efConstruction, MaxEfSearch)
		case efSearch < 1 || efSearch > MaxEfSearch:
			d.fail("efSearch %d outside 1..%d", efSearch, MaxEfSearch)
		case upperBeam != 1:
			d.fail("upper_beam %d, expected 1", upperBeam)
		}
	}
	storage := d.flat()
	if d.err == nil && storage != h {
		d.fail("HNSW %+v over storage %+v", h, storage)
	}
	return h
}
