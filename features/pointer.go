package features

import "math"

// Point is one pointer or touch sample: time (ms), position (CSS px or device px, as long
// as a user's samples agree) and pressure (0..1; mice report a constant).
type Point struct {
	T, X, Y, Pressure float64
}

// Layout of the pointer vector (PointerDim values).
const (
	PtrDuration     = iota // ms from the first to the last point
	PtrPathLength          // px travelled
	PtrStraightness        // end-to-end distance / path length, in [0, 1]
	PtrSpeedMean           // px/ms, time-weighted mean (path length / duration)
	PtrSpeedStd            // px/ms, over segments
	PtrSpeedMax            // px/ms
	PtrAccelMean           // mean |dv/dt|, px/ms²
	PtrAccelStd            // standard deviation of |dv/dt|
	PtrTurnMean            // mean |turning angle| between successive segments, radians
	PtrPressureMean        // mean pressure
	PtrPressureStd         // standard deviation of pressure
	PtrPeakSpeedPos        // when the peak speed happens, as a fraction of the duration
	PointerDim             // length of the pointer vector
)

const (
	// MinPointerPoints is the fewest points a run needs (three give one acceleration and
	// one turning angle).
	MinPointerPoints = 3
	// DefaultPointerMaxGapMs ends a run when the pointer is still for longer than this.
	DefaultPointerMaxGapMs = 100.0
	// DefaultPointerMaxPoints is the run capacity of a PointerAccumulator.
	DefaultPointerMaxPoints = 512
	// minSegment is the shortest segment (px) whose direction counts for turning angles:
	// sensor jitter on a still finger would otherwise look like wild turns.
	minSegment = 0.5
)

// Pointer writes the statistics of one run of points (time non-decreasing) into dst
// (len >= PointerDim). A run needs MinPointerPoints points and a positive duration
// (ErrTooShort otherwise).
func Pointer(pts []Point, dst []float32) error {
	if len(dst) < PointerDim {
		return ErrBufferSize
	}
	var r pointerRun
	for i := range pts {
		if err := r.add(pts[i]); err != nil {
			return err
		}
	}
	return r.flush(dst)
}

// pointerRun computes a run's statistics in one pass, so that the accumulator needs no
// point buffer.
type pointerRun struct {
	n              int
	first, prev    Point
	path           float64
	speed, accel   welford
	pressure       welford
	turnSum        float64
	turns          int
	prevSpeed      float64
	prevMidT       float64
	hasSpeed       bool
	prevDX, prevDY float64
	hasDir         bool
	peakT          float64
	peakSpeed      float64
	err            error // first error met; the run is then unusable
}

func (r *pointerRun) add(p Point) error {
	if r.err != nil {
		return r.err
	}
	if !finite(p.T) || !finite(p.X) || !finite(p.Y) || !finite(p.Pressure) {
		r.err = ErrInvalidValue
		return r.err
	}
	if r.n > 0 && p.T < r.prev.T {
		r.err = ErrOutOfOrder
		return r.err
	}
	r.pressure.add(p.Pressure)
	if r.n == 0 {
		r.first, r.prev, r.n = p, p, 1
		return nil
	}
	dx, dy, dt := p.X-r.prev.X, p.Y-r.prev.Y, p.T-r.prev.T
	seg := math.Hypot(dx, dy)
	r.path += seg
	if dt > 0 {
		v := seg / dt
		mid := (p.T + r.prev.T) / 2
		r.speed.add(v)
		if v > r.peakSpeed || !r.hasSpeed {
			r.peakSpeed, r.peakT = v, mid
		}
		if r.hasSpeed && mid > r.prevMidT {
			r.accel.add(math.Abs(v-r.prevSpeed) / (mid - r.prevMidT))
		}
		r.prevSpeed, r.prevMidT, r.hasSpeed = v, mid, true
	}
	if seg >= minSegment {
		if r.hasDir {
			cross := r.prevDX*dy - r.prevDY*dx
			dot := r.prevDX*dx + r.prevDY*dy
			r.turnSum += math.Abs(math.Atan2(cross, dot))
			r.turns++
		}
		r.prevDX, r.prevDY, r.hasDir = dx, dy, true
	}
	r.prev = p
	r.n++
	return nil
}

func (r *pointerRun) flush(dst []float32) error {
	if r.err != nil {
		return r.err
	}
	if len(dst) < PointerDim {
		return ErrBufferSize
	}
	dur := r.prev.T - r.first.T
	if r.n < MinPointerPoints || dur <= 0 {
		return ErrTooShort
	}
	var out [PointerDim]float64
	out[PtrDuration] = dur
	out[PtrPathLength] = r.path
	if r.path > 0 {
		out[PtrStraightness] = math.Min(1, math.Hypot(r.prev.X-r.first.X, r.prev.Y-r.first.Y)/r.path)
	}
	out[PtrSpeedMean] = r.path / dur
	out[PtrSpeedStd] = r.speed.std()
	out[PtrSpeedMax] = r.speed.max
	out[PtrAccelMean] = r.accel.mean
	out[PtrAccelStd] = r.accel.std()
	if r.turns > 0 {
		out[PtrTurnMean] = r.turnSum / float64(r.turns)
	}
	out[PtrPressureMean] = r.pressure.mean
	out[PtrPressureStd] = r.pressure.std()
	out[PtrPeakSpeedPos] = (r.peakT - r.first.T) / dur
	for i, v := range out {
		dst[i] = float32(v)
	}
	return nil
}

// PointerPhase says where a point sits in a gesture.
type PointerPhase uint8

// Pointer phases, as the wire's "phase" of a pointer event.
const (
	PhaseMove PointerPhase = iota // a move (mouse hover, finger drag)
	PhaseDown                     // button or finger down: starts a new run
	PhaseUp                       // button or finger up: ends the run, this point included
)

// PointerConfig sets when a run ends.
type PointerConfig struct {
	// MaxGapMs ends a run when the next point comes more than this after the previous
	// one (the pointer rested). Default DefaultPointerMaxGapMs.
	MaxGapMs float64
	// MaxPoints ends a run when it holds this many points, so one endless drag still
	// yields samples. Default DefaultPointerMaxPoints.
	MaxPoints int
}

// PointerAccumulator builds pointer runs from a stream of points, one run at a time, in
// constant memory (statistics are updated per point; no point is stored).
//
// A run ends, and Append reports true, when:
//   - the point is PhaseUp (the point belongs to the run that ends);
//   - the point is PhaseDown, or comes more than MaxGapMs after the previous point: the
//     run so far ends and this point is kept as the first point of the next run;
//   - the run reaches MaxPoints points.
//
// After Append reports true the caller calls Flush to get the finished run's vector. If
// it appends again instead, the finished run is dropped (counted by Dropped).
type PointerAccumulator struct {
	cfg     PointerConfig
	cur     pointerRun
	done    pointerRun
	ready   bool
	dropped int
}

// NewPointerAccumulator returns an accumulator with cfg (zero fields take defaults).
func NewPointerAccumulator(cfg PointerConfig) *PointerAccumulator {
	if cfg.MaxGapMs <= 0 {
		cfg.MaxGapMs = DefaultPointerMaxGapMs
	}
	if cfg.MaxPoints <= 0 {
		cfg.MaxPoints = DefaultPointerMaxPoints
	}
	return &PointerAccumulator{cfg: cfg}
}

// EndsRun reports whether a point at time t (ms) after prevT would start a new run
// because of the gap rule: t - prevT > maxGapMs.
func EndsRun(prevT, t, maxGapMs float64) bool { return t-prevT > maxGapMs }

// Append adds one point and reports whether a run is finished and waits for Flush.
func (a *PointerAccumulator) Append(p Point, phase PointerPhase) bool {
	if a.ready {
		a.ready = false
		a.dropped++
	}
	if a.cur.n > 0 && (phase == PhaseDown || EndsRun(a.cur.prev.T, p.T, a.cfg.MaxGapMs)) {
		a.finish()
	}
	_ = a.cur.add(p) // an error stays in the run and comes out of Flush
	if phase == PhaseUp || a.cur.n >= a.cfg.MaxPoints {
		a.finish()
	}
	return a.ready
}

// finish moves the current run to the finished slot. A run with an error is kept so that
// Flush reports the error rather than silently losing the run.
func (a *PointerAccumulator) finish() {
	if a.cur.n == 0 && a.cur.err == nil {
		return
	}
	a.done = a.cur
	a.cur = pointerRun{}
	a.ready = true
}

// Flush writes the finished run's vector into dst (len >= PointerDim). It returns
// ErrNotReady when no run is finished, and the run's own error (ErrTooShort for a tap or
// a twitch, ErrOutOfOrder, ErrInvalidValue) when it cannot be described; either way the
// finished run is consumed.
func (a *PointerAccumulator) Flush(dst []float32) error {
	if !a.ready {
		return ErrNotReady
	}
	a.ready = false
	return a.done.flush(dst)
}

// Dropped returns how many finished runs were overwritten before being flushed.
func (a *PointerAccumulator) Dropped() int { return a.dropped }

// Reset discards the current and the finished run.
func (a *PointerAccumulator) Reset() {
	a.cur, a.done = pointerRun{}, pointerRun{}
	a.ready = false
}
