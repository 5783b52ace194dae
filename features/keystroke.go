package features

import "math"

// Key is one key press: its opaque code and the times (ms) it went down and up.
// Up is NaN while the key's up event has not been seen.
type Key struct {
	Code uint64
	Down float64
	Up   float64
}

// Complete reports whether both of the key's times are known.
func (k Key) Complete() bool { return !math.IsNaN(k.Up) }

const (
	// MinFixedKeys is the shortest entry FixedText accepts: with one key there are no
	// latencies and the vector says almost nothing about the typist.
	MinFixedKeys = 2
	// DefaultMaxKeys is the capacity of a keystroke accumulator made with maxKeys <= 0.
	DefaultMaxKeys = 128
	// maxOpenKeys bounds how many keys can be held down at once; beyond it the oldest
	// held key is given up on (its Up stays NaN), which only a stuck key produces.
	maxOpenKeys = 16
)

// FixedDim returns the length of the fixed-text vector of an entry of n keys: n hold
// times, n-1 down-down latencies and n-1 up-down latencies (3n-2). It returns 0 for n < 1.
func FixedDim(n int) int {
	if n < 1 {
		return 0
	}
	return 3*n - 2
}

// KeysForDim is the inverse of FixedDim: the number of keys of a fixed-text vector of
// length dim, or 0 when dim is not of the form 3n-2.
func KeysForDim(dim int) int {
	if dim < 1 || (dim+2)%3 != 0 {
		return 0
	}
	return (dim + 2) / 3
}

// Fingerprint hashes the ordered key codes (FNV-1a, 64 bits). Two entries typed with the
// same keys in the same order have the same fingerprint; an extra key, a missing one or a
// different order changes it, which lets the scorer reject a sample whose key sequence
// differs from the field's reference. It never returns 0, which callers use for "none".
func Fingerprint(keys []Key) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := range keys {
		c := keys[i].Code
		for b := 0; b < 8; b++ {
			h ^= c & 0xff
			h *= prime
			c >>= 8
		}
	}
	if h == 0 {
		h = 1
	}
	return h
}

// Layout of the fixed-text vector of n keys, in this order:
//
//	[0, n)        hold time of key i: Up[i] - Down[i]
//	[n, 2n-1)     down-down latency: Down[i+1] - Down[i]
//	[2n-1, 3n-2)  up-down latency: Down[i+1] - Up[i] (negative when keys overlap)
//
// This is the information of the CMU keystroke benchmark (H, DD, UD per key), grouped by
// kind instead of interleaved per key.

// FixedHoldOffset returns the index of the first hold time for n keys (always 0).
func FixedHoldOffset(int) int { return 0 }

// FixedDDOffset returns the index of the first down-down latency for n keys.
func FixedDDOffset(n int) int { return n }

// FixedUDOffset returns the index of the first up-down latency for n keys.
func FixedUDOffset(n int) int { return 2*n - 1 }

// FixedText writes the fixed-text vector of keys (see the layout above) into dst, which
// must hold at least FixedDim(len(keys)) values, and returns the key sequence fingerprint.
//
// Keys must be in the order they were pressed (Down non-decreasing). It refuses, rather
// than produce garbage: fewer than MinFixedKeys keys (ErrTooShort), a key without its up
// event (ErrIncomplete), a key released before it was pressed or presses out of order
// (ErrOutOfOrder), NaN or infinite times (ErrInvalidValue). Corrections are not undone:
// a backspace is just another key, so a corrected entry has a different key sequence and
// is caught by its fingerprint.
func FixedText(keys []Key, dst []float32) (fingerprint uint64, err error) {
	n := len(keys)
	if n < MinFixedKeys {
		return 0, ErrTooShort
	}
	if len(dst) < FixedDim(n) {
		return 0, ErrBufferSize
	}
	for i := range keys {
		k := &keys[i]
		if !finite(k.Down) || math.IsInf(k.Up, 0) {
			return 0, ErrInvalidValue
		}
		if math.IsNaN(k.Up) {
			return 0, ErrIncomplete
		}
		if k.Up < k.Down || (i > 0 && k.Down < keys[i-1].Down) {
			return 0, ErrOutOfOrder
		}
	}
	dd := dst[FixedDDOffset(n):]
	ud := dst[FixedUDOffset(n):]
	for i := 0; i < n; i++ {
		dst[i] = float32(keys[i].Up - keys[i].Down)
		if i+1 < n {
			dd[i] = float32(keys[i+1].Down - keys[i].Down)
			ud[i] = float32(keys[i+1].Down - keys[i].Up)
		}
	}
	return Fingerprint(keys), nil
}

// keyPairer turns a stream of key down and up events into Keys, pairing each up with the
// pending down of the same code. It owns fixed buffers and never allocates after creation.
type keyPairer struct {
	keys     []Key // capacity fixed at creation
	open     [maxOpenKeys]int32
	nOpen    int
	overflow bool
	invalid  bool
	orphans  int // up events without a matching down (e.g. a key pressed before focus)
}

func newKeyPairer(maxKeys int) keyPairer {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return keyPairer{keys: make([]Key, 0, maxKeys)}
}

func (p *keyPairer) down(code uint64, t float64) {
	if !finite(t) {
		p.invalid = true
		return
	}
	for i := 0; i < p.nOpen; i++ {
		if p.keys[p.open[i]].Code == code {
			return // auto-repeat of a held key: not a new press
		}
	}
	if len(p.keys) == cap(p.keys) {
		p.overflow = true
		return
	}
	if p.nOpen == maxOpenKeys {
		// A key stuck down: give up on the oldest (its Up stays NaN).
		copy(p.open[:], p.open[1:])
		p.nOpen--
	}
	p.keys = append(p.keys, Key{Code: code, Down: t, Up: math.NaN()})
	p.open[p.nOpen] = int32(len(p.keys) - 1)
	p.nOpen++
}

func (p *keyPairer) up(code uint64, t float64) {
	if !finite(t) {
		p.invalid = true
		return
	}
	for i := 0; i < p.nOpen; i++ {
		k := &p.keys[p.open[i]]
		if k.Code == code {
			k.Up = t
			copy(p.open[i:p.nOpen], p.open[i+1:p.nOpen])
			p.nOpen--
			return
		}
	}
	p.orphans++
}

// sortByDown orders keys by press time. Insertion sort: the keys arrive almost sorted,
// and it neither allocates nor reorders equal times.
func (p *keyPairer) sortByDown() {
	ks := p.keys
	for i := 1; i < len(ks); i++ {
		k := ks[i]
		j := i - 1
		for j >= 0 && ks[j].Down > k.Down {
			ks[j+1] = ks[j]
			j--
		}
		ks[j+1] = k
	}
}

func (p *keyPairer) reset() {
	p.keys = p.keys[:0]
	p.nOpen = 0
	p.overflow = false
	p.invalid = false
	p.orphans = 0
}

// KeystrokeAccumulator collects the key events of one typed entry of a fixed-text field
// and turns them into a FixedText vector on Flush. Repeated downs of a held key
// (auto-repeat) are ignored; an up without a pending down is ignored and counted.
// The session actor keeps one per field and flushes it on the field's commit.
type KeystrokeAccumulator struct {
	p keyPairer
}

// NewKeystrokeAccumulator returns an accumulator for entries of at most maxKeys keys
// (DefaultMaxKeys when maxKeys <= 0).
func NewKeystrokeAccumulator(maxKeys int) *KeystrokeAccumulator {
	return &KeystrokeAccumulator{p: newKeyPairer(maxKeys)}
}

// KeyDown records a key press at time t (ms).
func (a *KeystrokeAccumulator) KeyDown(code uint64, t float64) { a.p.down(code, t) }

// KeyUp records a key release at time t (ms).
func (a *KeystrokeAccumulator) KeyUp(code uint64, t float64) { a.p.up(code, t) }

// Len returns the number of key presses recorded since the last Flush or Reset.
func (a *KeystrokeAccumulator) Len() int { return len(a.p.keys) }

// Pending returns how many recorded keys still wait for their up event. A commit often
// arrives between the last key's down and its up: the caller may wait (with a deadline)
// for Pending to reach 0 before flushing.
func (a *KeystrokeAccumulator) Pending() int { return a.p.nOpen }

// Orphans returns how many up events had no matching down since the last Flush or Reset.
func (a *KeystrokeAccumulator) Orphans() int { return a.p.orphans }

// Dim returns the length of the vector Flush would produce now.
func (a *KeystrokeAccumulator) Dim() int { return FixedDim(len(a.p.keys)) }

// Flush writes the entry's FixedText vector into dst and returns its length and the key
// sequence fingerprint, then empties the accumulator, also on error (a bad entry is
// discarded, never carried into the next one). Keys are ordered by press time first.
func (a *KeystrokeAccumulator) Flush(dst []float32) (dim int, fingerprint uint64, err error) {
	defer a.p.reset()
	switch {
	case a.p.invalid:
		return 0, 0, ErrInvalidValue
	case a.p.overflow:
		return 0, 0, ErrTooLong
	}
	a.p.sortByDown()
	fp, err := FixedText(a.p.keys, dst)
	if err != nil {
		return 0, 0, err
	}
	return FixedDim(len(a.p.keys)), fp, nil
}

// Reset discards everything recorded.
func (a *KeystrokeAccumulator) Reset() { a.p.reset() }
