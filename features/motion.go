package features

import "math"

// Motion is one inertial sensor reading: time (ms), acceleration (m/s², gravity included,
// as devicemotion's accelerationIncludingGravity) and rotation rate (rad/s or deg/s, as
// long as a user's samples agree).
type Motion struct {
	T, AX, AY, AZ, GX, GY, GZ float64
}

// Layout of the motion vector (MotionDim values): for each axis AX, AY, AZ, GX, GY, GZ in
// that order its mean and standard deviation (12 values), then the mean, standard
// deviation and maximum of the acceleration magnitude and of the rotation magnitude.
const (
	MotAxisMean   = 0  // index of AX mean; axis a's mean is at 2a, its std at 2a+1
	MotAccMagMean = 12 // mean |a|
	MotAccMagStd  = 13
	MotAccMagMax  = 14
	MotGyrMagMean = 15 // mean |ω|
	MotGyrMagStd  = 16
	MotGyrMagMax  = 17
	MotionDim     = 18 // length of the motion vector
)

const (
	// MinMotionSamples is the fewest readings a window needs.
	MinMotionSamples = 10
	// DefaultMotionWindowMs is the span of one motion sample.
	DefaultMotionWindowMs = 2000.0
	// DefaultMotionMaxGapMs restarts a window when readings stop for longer than this
	// (the page was hidden, the sensor paused): a window must be contiguous.
	DefaultMotionMaxGapMs = 500.0
)

// motionWindow accumulates a window's statistics in one pass (no readings stored).
type motionWindow struct {
	n        int
	start    float64
	last     float64
	axes     [6]welford
	acc, gyr welford
	err      error
}

func (w *motionWindow) add(m Motion) error {
	if w.err != nil {
		return w.err
	}
	if !finite(m.T) || !finite(m.AX) || !finite(m.AY) || !finite(m.AZ) ||
		!finite(m.GX) || !finite(m.GY) || !finite(m.GZ) {
		w.err = ErrInvalidValue
		return w.err
	}
	if w.n > 0 && m.T < w.last {
		w.err = ErrOutOfOrder
		return w.err
	}
	if w.n == 0 {
		w.start = m.T
	}
	w.last = m.T
	w.n++
	v := [6]float64{m.AX, m.AY, m.AZ, m.GX, m.GY, m.GZ}
	for i := range v {
		w.axes[i].add(v[i])
	}
	w.acc.add(math.Sqrt(m.AX*m.AX + m.AY*m.AY + m.AZ*m.AZ))
	w.gyr.add(math.Sqrt(m.GX*m.GX + m.GY*m.GY + m.GZ*m.GZ))
	return nil
}

func (w *motionWindow) flush(dst []float32) error {
	if w.err != nil {
		return w.err
	}
	if len(dst) < MotionDim {
		return ErrBufferSize
	}
	if w.n < MinMotionSamples {
		return ErrTooShort
	}
	for i := range w.axes {
		dst[2*i] = float32(w.axes[i].mean)
		dst[2*i+1] = float32(w.axes[i].std())
	}
	dst[MotAccMagMean] = float32(w.acc.mean)
	dst[MotAccMagStd] = float32(w.acc.std())
	dst[MotAccMagMax] = float32(w.acc.max)
	dst[MotGyrMagMean] = float32(w.gyr.mean)
	dst[MotGyrMagStd] = float32(w.gyr.std())
	dst[MotGyrMagMax] = float32(w.gyr.max)
	return nil
}

// MotionFeatures writes the statistics of one window of readings (time non-decreasing)
// into dst (len >= MotionDim). A window needs MinMotionSamples readings.
func MotionFeatures(ms []Motion, dst []float32) error {
	if len(dst) < MotionDim {
		return ErrBufferSize
	}
	var w motionWindow
	for i := range ms {
		if err := w.add(ms[i]); err != nil {
			return err
		}
	}
	return w.flush(dst)
}

// MotionConfig sets the window.
type MotionConfig struct {
	// WindowMs is a window's span: the reading that reaches start+WindowMs closes it.
	// Default DefaultMotionWindowMs.
	WindowMs float64
	// MaxGapMs: a reading more than this after the previous one discards the partial
	// window and starts a new one with it. Default DefaultMotionMaxGapMs.
	MaxGapMs float64
}

// MotionAccumulator cuts a stream of readings into contiguous windows of WindowMs, in
// constant memory. Append reports true when a window is complete; the caller then
// Flushes it. Appending again instead drops the finished window (counted by Dropped).
type MotionAccumulator struct {
	cfg       MotionConfig
	cur, done motionWindow
	ready     bool
	dropped   int
	gaps      int
}

// NewMotionAccumulator returns an accumulator with cfg (zero fields take defaults).
func NewMotionAccumulator(cfg MotionConfig) *MotionAccumulator {
	if cfg.WindowMs <= 0 {
		cfg.WindowMs = DefaultMotionWindowMs
	}
	if cfg.MaxGapMs <= 0 {
		cfg.MaxGapMs = DefaultMotionMaxGapMs
	}
	return &MotionAccumulator{cfg: cfg}
}

// Append adds one reading and reports whether a window is finished and waits for Flush.
func (a *MotionAccumulator) Append(m Motion) bool {
	if a.ready {
		a.ready = false
		a.dropped++
	}
	if a.cur.n > 0 && m.T-a.cur.last > a.cfg.MaxGapMs {
		a.cur = motionWindow{} // not contiguous: start again from this reading
		a.gaps++
	}
	_ = a.cur.add(m) // an error stays in the window and comes out of Flush
	if a.cur.err != nil || m.T-a.cur.start >= a.cfg.WindowMs {
		a.done = a.cur
		a.cur = motionWindow{}
		a.ready = true
	}
	return a.ready
}

// Flush writes the finished window's vector into dst (len >= MotionDim). It returns
// ErrNotReady when no window is finished, or the window's own error; either way the
// finished window is consumed.
func (a *MotionAccumulator) Flush(dst []float32) error {
	if !a.ready {
		return ErrNotReady
	}
	a.ready = false
	return a.done.flush(dst)
}

// Dropped returns how many finished windows were overwritten before being flushed.
func (a *MotionAccumulator) Dropped() int { return a.dropped }

// Gaps returns how many partial windows were discarded because readings stopped.
func (a *MotionAccumulator) Gaps() int { return a.gaps }

// Reset discards the current and the finished window.
func (a *MotionAccumulator) Reset() {
	a.cur, a.done = motionWindow{}, motionWindow{}
	a.ready = false
}
