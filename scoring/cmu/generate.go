package cmu

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
)

// GenConfig sets the size and seed of a synthetic dataset. Zero fields take the real
// benchmark's shape: 51 subjects, 8 sessions of 50 repetitions.
type GenConfig struct {
	Seed     uint64
	Subjects int
	Sessions int
	Reps     int
}

func (c GenConfig) withDefaults() GenConfig {
	if c.Subjects == 0 {
		c.Subjects = 51
	}
	if c.Sessions == 0 {
		c.Sessions = 8
	}
	if c.Reps == 0 {
		c.Reps = 50
	}
	return c
}

// The password of the benchmark, ".tie5Roanl" then Return, with the benchmark's key names.
var passwordKeys = []string{"period", "t", "i", "e", "five", "Shift.r", "o", "a", "n", "l", "Return"}

// Population means (seconds) of each key's hold and of each down-down latency, in the
// range the real data shows: holds near 0.1 s, longer for Shift; latencies from 0.1 s for
// easy same-hand runs to 0.4 s for the reach to the digit row and the Shift chord.
var (
	popHold = []float64{0.09, 0.085, 0.08, 0.085, 0.09, 0.13, 0.085, 0.09, 0.08, 0.085, 0.08}
	popDD   = []float64{0.28, 0.16, 0.17, 0.33, 0.42, 0.24, 0.19, 0.14, 0.17, 0.30}
)

// HeaderFields returns the benchmark's header for keys: subject, sessionIndex, rep, then
// H/DD/UD interleaved per key.
func HeaderFields(keys []string) []string {
	h := append([]string(nil), leadColumns[:]...)
	for i, k := range keys {
		h = append(h, "H."+k)
		if i+1 < len(keys) {
			h = append(h, "DD."+k+"."+keys[i+1], "UD."+k+"."+keys[i+1])
		}
	}
	return h
}

// subjectModel is one synthetic typist.
type subjectModel struct {
	hold, dd    []float64 // personal means, seconds
	noise       float64   // personal inconsistency multiplier
	learn       float64   // how much faster practice makes the latencies (fraction)
	pauseProb   float64   // chance of a hesitation per latency
	holdSigma   float64
	ddSigma     float64
	tempoSigma  float64
	sessionDD   []float64 // per-session personal drift of each latency (log factors)
	sessionHold []float64
	sessionPace []float64
}

func newSubject(rng *rand.Rand, sessions int) *subjectModel {
	logn := func(s float64) float64 { return math.Exp(s * rng.NormFloat64()) }
	tempo := logn(0.35)    // slow and fast typists
	holdStyle := logn(0.2) // light and heavy touch
	s := &subjectModel{
		hold:  make([]float64, len(popHold)),
		dd:    make([]float64, len(popDD)),
		noise: logn(0.3),
		learn: 0.05 + 0.25*rng.Float64(),
	}
	// Personal rhythm: every key and digraph deviates from the population in a way of
	// its own, which is what makes a typist recognizable.
	for i := range s.hold {
		s.hold[i] = popHold[i] * holdStyle * logn(0.15)
	}
	for i := range s.dd {
		s.dd[i] = popDD[i] * tempo * logn(0.25)
	}
	s.holdSigma = 0.13 * s.noise
	s.ddSigma = 0.2 * s.noise
	s.tempoSigma = 0.08 * s.noise
	s.pauseProb = 0.004 + 0.02*rng.Float64()
	// Day-to-day variation: each session shifts pace and individual latencies a little.
	s.sessionPace = make([]float64, sessions)
	s.sessionDD = make([]float64, sessions*len(popDD))
	s.sessionHold = make([]float64, sessions*len(popHold))
	for i := range s.sessionPace {
		s.sessionPace[i] = 0.07 * rng.NormFloat64()
	}
	for i := range s.sessionDD {
		s.sessionDD[i] = 0.06 * rng.NormFloat64()
	}
	for i := range s.sessionHold {
		s.sessionHold[i] = 0.05 * rng.NormFloat64()
	}
	return s
}

// rep draws one repetition (seconds) into hold and dd. practice counts repetitions typed
// before this one; inSession counts those of the current session.
func (s *subjectModel) rep(rng *rand.Rand, session, practice, inSession int, hold, dd []float64) {
	// Practice: latencies shrink towards (1-learn) of their first value, quickly at
	// first (time constant about 100 repetitions); the first repetitions of each session
	// are a little slower (warming up).
	speed := 1 - s.learn*(1-math.Exp(-float64(practice)/100))
	warm := 1 + 0.12*math.Exp(-float64(inSession)/3)
	pace := math.Exp(s.sessionPace[session] + s.tempoSigma*rng.NormFloat64())
	for i := range hold {
		h := s.hold[i] * math.Exp(s.sessionHold[session*len(hold)+i]+s.holdSigma*rng.NormFloat64())
		if rng.Float64() < 0.004 {
			h *= 2 + rng.Float64() // a key held down too long
		}
		hold[i] = max(0.01, h)
	}
	for i := range dd {
		d := s.dd[i] * speed * warm * pace * math.Exp(s.sessionDD[session*len(dd)+i]+s.ddSigma*rng.NormFloat64())
		if rng.Float64() < s.pauseProb {
			d += 0.2 + rng.ExpFloat64()*0.5 // a hesitation
		}
		// The next key cannot go down before this one did.
		dd[i] = max(0.02, d)
	}
}

// Generate writes a synthetic dataset in the benchmark's layout to w: every subject types
// ".tie5Roanl"+Return Sessions × Reps times. Subjects differ in tempo, touch and the
// rhythm of each key and digraph; within a subject, repetitions vary (per key, and in
// overall pace), latencies shrink with practice, sessions drift, the first repetitions of
// a session are slower, and occasional hesitations and long holds make outliers.
// Impostor attempts are simply other subjects typing the same password, as in the real
// protocol. Output is deterministic for a seed. Times are seconds with 4 decimals, as in
// the real file.
func Generate(w io.Writer, cfg GenConfig) error {
	cfg = cfg.withDefaults()
	if cfg.Subjects < 2 || cfg.Sessions < 1 || cfg.Reps < 1 || cfg.Subjects > 9000 {
		return fmt.Errorf("generate %d subjects × %d sessions × %d reps: %w", cfg.Subjects, cfg.Sessions, cfg.Reps, ErrProtocol)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6b65797374726f6b)) // "keystrok"
	bw := bufio.NewWriter(w)
	for i, f := range HeaderFields(passwordKeys) {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString(f)
	}
	bw.WriteByte('\n')
	hold := make([]float64, len(popHold))
	dd := make([]float64, len(popDD))
	var buf []byte
	for sub := 0; sub < cfg.Subjects; sub++ {
		s := newSubject(rng, cfg.Sessions)
		name := fmt.Sprintf("s%03d", sub+2) // the real subjects start at s002
		for sess := 0; sess < cfg.Sessions; sess++ {
			for r := 0; r < cfg.Reps; r++ {
				s.rep(rng, sess, sess*cfg.Reps+r, r, hold, dd)
				buf = buf[:0]
				buf = append(buf, name...)
				buf = append(buf, ',')
				buf = strconv.AppendInt(buf, int64(sess+1), 10)
				buf = append(buf, ',')
				buf = strconv.AppendInt(buf, int64(r+1), 10)
				for k := range hold {
					buf = append(buf, ',')
					buf = strconv.AppendFloat(buf, round4(hold[k]), 'f', 4, 64)
					if k+1 < len(hold) {
						ddr, hr := round4(dd[k]), round4(hold[k])
						buf = append(buf, ',')
						buf = strconv.AppendFloat(buf, ddr, 'f', 4, 64)
						buf = append(buf, ',')
						buf = strconv.AppendFloat(buf, round4(ddr-hr), 'f', 4, 64) // UD = DD - H
					}
				}
				buf = append(buf, '\n')
				if _, err := bw.Write(buf); err != nil {
					return fmt.Errorf("write synthetic row: %w", err)
				}
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write synthetic data: %w", err)
	}
	return nil
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }
