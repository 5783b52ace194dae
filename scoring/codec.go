package scoring

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// Binary layout of a TemplateSet (little endian), version 1:
//
//	"BATS" version:u8 modality:u8 flags:u8 (1 trained, 2 stale) reserved:u8
//	dim:u32 fingerprint:u64 nextID:i64
//	n:u32 ids:[n]i64 vecs:[n*dim]f32
//	if trained: zMean:[dim]f32 zScale:[dim]f32 smScale:f64 nnScale:f64 thrRaw:f64
//	            m:u32 calibration:[m]f64 (ascending)
//	r:u32 replay hashes:[r]u64 (oldest first)
//	crc32c:u32 of everything before
//
// Calibration distances are float64 so that a decoded set scores exactly as the original.
// The configuration is not stored: it comes from the receiver (the node's policy), so a
// policy change applies to stored profiles too.

var (
	codecMagic = [4]byte{'B', 'A', 'T', 'S'}
	crcTable   = crc32.MakeTable(crc32.Castagnoli)
)

const (
	codecVersion = 1
	flagTrained  = 1
	flagStale    = 2
)

// MarshalBinary implements encoding.BinaryMarshaler. Vectors are stored as float32.
func (t *TemplateSet) MarshalBinary() ([]byte, error) {
	n := len(t.ids)
	size := 4 + 4 + 4 + 8 + 8 + 4 + n*8 + len(t.vecs)*4 + 4 + t.replay.n*8 + 4
	if t.trained {
		size += 2*t.dim*4 + 3*8 + 4 + len(t.cal.sorted)*8
	}
	b := make([]byte, 0, size)
	b = append(b, codecMagic[:]...)
	var flags byte
	if t.trained {
		flags |= flagTrained
	}
	if t.stale {
		flags |= flagStale
	}
	b = append(b, codecVersion, byte(t.modality), flags, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(t.dim))
	b = binary.LittleEndian.AppendUint64(b, t.fp)
	b = binary.LittleEndian.AppendUint64(b, uint64(t.nextID))
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	for _, id := range t.ids {
		b = binary.LittleEndian.AppendUint64(b, uint64(id))
	}
	b = appendF32s(b, t.vecs)
	if t.trained {
		b = appendF32s(b, t.zMean)
		b = appendF32s(b, t.zScale)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(t.smScale))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(t.nnScale))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(t.thrRaw))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(t.cal.sorted)))
		for _, c := range t.cal.sorted {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c))
		}
	}
	hashes := t.replay.appendOrdered(nil)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(hashes)))
	for _, h := range hashes {
		b = binary.LittleEndian.AppendUint64(b, h)
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
	return b, nil
}

func appendF32s(b []byte, xs []float32) []byte {
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// decoder reads little-endian values and remembers the first failure.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("offset %d: %s: %w", d.off, fmt.Sprintf(format, args...), ErrCorrupt)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b)-d.off < n {
		d.fail("need %d bytes, have %d", n, len(d.b)-d.off)
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) u8() byte {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if p := d.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if p := d.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

// count reads a u32 count, refusing one above limit or one whose items (each of
// itemSize bytes) cannot fit in what is left, before anything is allocated for it.
func (d *decoder) count(what string, limit, itemSize int) int {
	c := d.u32()
	if d.err != nil {
		return 0
	}
	if uint64(c) > uint64(limit) {
		d.fail("%s %d exceeds %d", what, c, limit)
		return 0
	}
	if uint64(c)*uint64(itemSize) > uint64(len(d.b)-d.off) {
		d.fail("%s %d does not fit in %d bytes", what, c, len(d.b)-d.off)
		return 0
	}
	return int(c)
}

func (d *decoder) f64() float64 {
	v := math.Float64frombits(d.u64())
	if d.err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
		d.fail("non-finite value")
	}
	return v
}

// f32s reads n finite float32 values.
func (d *decoder) f32s(n int) []float32 {
	p := d.take(n * 4)
	if p == nil {
		return nil
	}
	out := make([]float32, n)
	for i := range out {
		v := math.Float32frombits(binary.LittleEndian.Uint32(p[i*4:]))
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			d.fail("non-finite value at index %d", i)
			return nil
		}
		out[i] = v
	}
	return out
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It replaces t's state with the
// decoded one and keeps t's configuration (defaults if t is a zero TemplateSet). It
// checks every count and value before use, so arbitrary bytes give ErrCorrupt, never a
// panic or a huge allocation. If the stored templates exceed the configured MaxTemplates
// the oldest are dropped and the set needs calibration. The index is not part of the
// data: fill one with LoadIndex.
func (t *TemplateSet) UnmarshalBinary(data []byte) error {
	cfg := t.cfg
	if cfg == (Config{}) {
		cfg = DefaultConfig()
	}
	if len(data) < 4 {
		return fmt.Errorf("template set of %d bytes: %w", len(data), ErrCorrupt)
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return fmt.Errorf("template set checksum: %w", ErrCorrupt)
	}
	d := &decoder{b: body}
	var magic [4]byte
	copy(magic[:], d.take(4))
	if d.err == nil && magic != codecMagic {
		d.fail("bad magic %q", magic[:])
	}
	if v := d.u8(); d.err == nil && v != codecVersion {
		d.fail("unsupported version %d", v)
	}
	n := TemplateSet{cfg: cfg, modality: Modality(d.u8())}
	if d.err == nil && !n.modality.Valid() {
		d.fail("unknown modality %d", n.modality)
	}
	flags := d.u8()
	if d.err == nil && flags&^(flagTrained|flagStale) != 0 {
		d.fail("unknown flags %#x", flags)
	}
	d.u8()
	dim := d.u32()
	if d.err == nil && dim > MaxDim {
		d.fail("dimension %d exceeds %d", dim, MaxDim)
	}
	n.dim = int(dim)
	n.fp = d.u64()
	n.nextID = int64(d.u64())
	count := d.count("template count", maxStoredTemplates, 8+n.dim*4)
	if d.err == nil && count > 0 && n.dim == 0 {
		d.fail("templates of dimension 0")
	}
	if d.err == nil && n.nextID < 0 {
		d.fail("negative next id")
	}
	n.ids = make([]int64, count)
	for i := range n.ids {
		n.ids[i] = int64(d.u64())
		if d.err == nil && (n.ids[i] < 0 || n.ids[i] >= n.nextID || (i > 0 && n.ids[i] <= n.ids[i-1])) {
			d.fail("template id %d out of order or range", n.ids[i])
		}
	}
	n.vecs = d.f32s(count * n.dim)
	if flags&flagTrained != 0 {
		n.trained = true
		n.stale = flags&flagStale != 0
		if d.err == nil && count < 2 {
			d.fail("trained with %d templates", count)
		}
		n.zMean = d.f32s(n.dim)
		n.zScale = d.f32s(n.dim)
		for _, s := range n.zScale {
			if d.err == nil && !(s > 0) {
				d.fail("non-positive scale")
			}
		}
		n.smScale, n.nnScale, n.thrRaw = d.f64(), d.f64(), d.f64()
		if d.err == nil && (!(n.smScale > 0) || !(n.nnScale > 0) || n.thrRaw < 0) {
			d.fail("bad calibration scales")
		}
		m := d.count("calibration size", maxStoredTemplates, 8)
		if d.err == nil && m < 1 {
			d.fail("empty calibration")
		}
		sorted := make([]float64, m)
		for i := range sorted {
			sorted[i] = d.f64()
			if d.err == nil && (sorted[i] < 0 || (i > 0 && sorted[i] < sorted[i-1])) {
				d.fail("calibration not ascending and non-negative")
			}
		}
		n.cal = calibration{sorted: sorted}
		n.cal.setTau()
	} else if d.err == nil && flags&flagStale != 0 {
		d.fail("stale flag on an untrained set")
	}
	r := d.count("replay hashes", maxReplayMemory, 8)
	hashes := make([]uint64, r)
	for i := range hashes {
		hashes[i] = d.u64()
	}
	if d.err == nil && d.off != len(body) {
		d.fail("%d trailing bytes", len(body)-d.off)
	}
	if d.err != nil {
		return fmt.Errorf("decode template set: %w", d.err)
	}

	n.replay.init(cfg.ReplayMemory)
	for _, h := range hashes {
		n.replay.Remember(h)
	}
	for len(n.ids) > cfg.MaxTemplates {
		n.ids = n.ids[1:]
		n.vecs = n.vecs[n.dim:]
		n.stale = n.trained
	}
	if n.dim > 0 && len(n.ids) > 0 {
		n.refit()
	}
	if n.trained {
		n.thrRisk = n.cal.risk(n.thrRaw)
	}
	*t = n
	return nil
}
