package actors

import (
	"github.com/behaviorauth/engine/actors/enginepb"
)

// wevent is one event of a session's rolling window, kept compact (no pointers but the field name, which is
// shared with the session's field table) so that a window of thousands of events stays small.
type wevent struct {
	t      float64
	code   uint64
	field  string
	x, y   float32
	press  float32
	motion [6]float32
	kind   enginepb.EventKind
	phase  enginepb.Phase
	ptr    string
}

// window is the rolling window: a ring bounded by count (max) and by time (span, in the client's ms).
type window struct {
	buf   []wevent
	head  int // index of the oldest
	n     int
	max   int
	span  float64
	lastT float64
}

func newWindow(max int, spanMs float64) window { return window{max: max, span: spanMs} }

// add appends e, dropping the oldest events beyond the count or older than the span. The ring grows on demand so
// that an idle session costs little.
func (w *window) add(e wevent) {
	if w.n == len(w.buf) && w.n < w.max {
		grown := make([]wevent, min(max(2*len(w.buf), 32), w.max))
		for i := 0; i < w.n; i++ {
			grown[i] = w.buf[(w.head+i)%len(w.buf)]
		}
		w.buf, w.head = grown, 0
	}
	if w.n == w.max {
		w.head = (w.head + 1) % len(w.buf)
		w.n--
	}
	w.buf[(w.head+w.n)%len(w.buf)] = e
	w.n++
	if e.t > w.lastT {
		w.lastT = e.t
	}
	for w.n > 0 && w.buf[w.head].t < w.lastT-w.span {
		w.head = (w.head + 1) % len(w.buf)
		w.n--
	}
}

// each calls f on every event, oldest first.
func (w *window) each(f func(*wevent)) {
	for i := 0; i < w.n; i++ {
		f(&w.buf[(w.head+i)%len(w.buf)])
	}
}

func (w *window) len() int { return w.n }

// toProto encodes the window for a snapshot. The events share one allocation: a snapshot of a full window
// would otherwise allocate once per event.
func (w *window) toProto() []*enginepb.Event {
	evs := make([]enginepb.Event, w.n)
	out := make([]*enginepb.Event, 0, w.n)
	w.each(func(e *wevent) {
		p := &evs[len(out)]
		p.Kind, p.T, p.Phase, p.Code, p.Field = e.kind, e.t, e.phase, e.code, e.field
		p.X, p.Y, p.Pressure, p.Pointer = float64(e.x), float64(e.y), float64(e.press), e.ptr
		p.Ax, p.Ay, p.Az = float64(e.motion[0]), float64(e.motion[1]), float64(e.motion[2])
		p.Gx, p.Gy, p.Gz = float64(e.motion[3]), float64(e.motion[4]), float64(e.motion[5])
		out = append(out, p)
	})
	return out
}

func weventOf(e *enginepb.Event) wevent {
	return wevent{
		t: e.T, code: e.Code, field: e.Field, x: float32(e.X), y: float32(e.Y), press: float32(e.Pressure),
		motion: [6]float32{float32(e.Ax), float32(e.Ay), float32(e.Az), float32(e.Gx), float32(e.Gy), float32(e.Gz)},
		kind:   e.Kind, phase: e.Phase, ptr: e.Pointer,
	}
}
