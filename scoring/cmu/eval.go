package cmu

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/behaviorauth/engine/scoring"
)

// PublishedEER is the mean equal-error rate of the best detector (scaled Manhattan) in
// Killourhy and Maxion (2009) on the real CMU data; its standard deviation over subjects
// was 0.069.
const PublishedEER = 0.096

// EvalConfig sets up an evaluation.
type EvalConfig struct {
	// NewIndex builds each subject's nearest-neighbour index: scoring.NewExactIndex in
	// pure Go, the FAISS binding in production. Required.
	NewIndex scoring.NewIndexFunc
	// Template configures the template sets; its EnrollmentSize and MaxTemplates are set
	// to EnrollReps (the protocol enrolls exactly those, and does not adapt).
	Template scoring.Config
	// EnrollReps, GenuineReps and ImpostorReps are the protocol's 200, 200 and 5
	// (the defaults).
	EnrollReps, GenuineReps, ImpostorReps int
	// DETPoints is the size of the FAR grid of the averaged DET curves. Default 60.
	DETPoints int
	// Progress, if set, is called after each subject with how many are done.
	Progress func(done, total int)
}

// SubjectResult is one subject's outcome.
type SubjectResult struct {
	Subject string `json:"subject"`
	// EER and EERThreshold (a risk in [0, 1]) of the engine's detector.
	EER          float64 `json:"eer"`
	EERThreshold float64 `json:"eer_threshold"`
	// UserThreshold is the subject's own calibrated risk threshold (set from enrollment
	// alone), and FAR/FRR what it gives on the test attempts.
	UserThreshold float64 `json:"user_threshold"`
	FARAtUser     float64 `json:"far_at_user_threshold"`
	FRRAtUser     float64 `json:"frr_at_user_threshold"`
	// BaselineEER and BaselineThreshold (a scaled Manhattan distance) of the baseline.
	BaselineEER       float64 `json:"baseline_eer"`
	BaselineThreshold float64 `json:"baseline_threshold"`
	Genuine           int     `json:"genuine"`
	Impostor          int     `json:"impostor"`
	// Flagged counts attempts that carried a replay or machine-timing reason (their risk
	// is 1); EnrollRejected counts enrollment repetitions refused for the same reasons.
	Flagged        int `json:"flagged"`
	EnrollRejected int `json:"enroll_rejected"`
}

// Summary is a detector's mean and standard deviation of EER over subjects.
type Summary struct {
	Name    string  `json:"name"`
	MeanEER float64 `json:"mean_eer"`
	StdEER  float64 `json:"std_eer"`
	// DET is the detector's vertically averaged DET curve: mean FRR at each FAR of
	// Report.DETFAR.
	DET []float64 `json:"det_frr"`
}

// Report is an evaluation's outcome.
type Report struct {
	Subjects  []SubjectResult `json:"subjects"`
	Engine    Summary         `json:"engine"`
	Baseline  Summary         `json:"baseline"`
	Published float64         `json:"published_eer"`
	DETFAR    []float64       `json:"det_far"`
	// Mean FAR and FRR over subjects at their own calibrated thresholds.
	MeanFARAtUser float64 `json:"mean_far_at_user_threshold"`
	MeanFRRAtUser float64 `json:"mean_frr_at_user_threshold"`
	Enroll        int     `json:"enroll_reps"`
	Genuine       int     `json:"genuine_reps"`
	ImpostorReps  int     `json:"impostor_reps"`
}

// Evaluate runs the benchmark protocol on ds: for each subject a template set is
// enrolled, trained with an index from cfg.NewIndex and asked to Score every genuine and
// impostor attempt, exactly as the engine's profile actor does; the scaled Manhattan
// baseline is fitted on the same enrollment. It stops early when ctx is done.
func Evaluate(ctx context.Context, ds *Dataset, cfg EvalConfig) (*Report, error) {
	if cfg.NewIndex == nil {
		return nil, errors.New("evaluate: no index constructor")
	}
	if cfg.EnrollReps == 0 {
		cfg.EnrollReps = 200
	}
	if cfg.GenuineReps == 0 {
		cfg.GenuineReps = 200
	}
	if cfg.ImpostorReps == 0 {
		cfg.ImpostorReps = 5
	}
	if cfg.DETPoints == 0 {
		cfg.DETPoints = 60
	}
	// Training runs on whatever enrollment accepted (it may refuse a replayed or
	// machine-regular repetition), so the set only needs two samples to train.
	cfg.Template.EnrollmentSize = 2
	cfg.Template.MaxTemplates = max(2, cfg.EnrollReps)
	if err := cfg.Template.Validate(); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	subjects, bySubject := groupRows(ds)
	if len(subjects) < 2 {
		return nil, fmt.Errorf("evaluate: %d subjects: %w", len(subjects), ErrProtocol)
	}
	for _, s := range subjects {
		if n := len(bySubject[s]); n < cfg.EnrollReps+1 || n < cfg.ImpostorReps {
			return nil, fmt.Errorf("evaluate: subject %s has %d repetitions, need more than %d: %w", s, n, cfg.EnrollReps, ErrProtocol)
		}
	}
	fp := ds.Fingerprint()
	rep := &Report{
		Published: PublishedEER, DETFAR: DETGrid(cfg.DETPoints),
		Enroll: cfg.EnrollReps, Genuine: cfg.GenuineReps, ImpostorReps: cfg.ImpostorReps,
	}
	detEngine := make([]float64, cfg.DETPoints)
	detBase := make([]float64, cfg.DETPoints)
	sc := scoring.NewScratch(ds.Dim, max(cfg.Template.K, scoring.DefaultConfig().K))
	for si, subj := range subjects {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		res, eng, base, err := evalSubject(subj, subjects, bySubject, fp, ds.Dim, sc, cfg)
		if err != nil {
			return nil, fmt.Errorf("evaluate subject %s: %w", subj, err)
		}
		rep.Subjects = append(rep.Subjects, res)
		addDET(detEngine, eng, rep.DETFAR)
		addDET(detBase, base, rep.DETFAR)
		if cfg.Progress != nil {
			cfg.Progress(si+1, len(subjects))
		}
	}
	n := float64(len(rep.Subjects))
	for i := range detEngine {
		detEngine[i] /= n
		detBase[i] /= n
	}
	rep.Engine = summarize("engine (scaled Manhattan + kNN, calibrated)", rep.Subjects, func(r SubjectResult) float64 { return r.EER }, detEngine)
	rep.Baseline = summarize("scaled Manhattan (Killourhy & Maxion)", rep.Subjects, func(r SubjectResult) float64 { return r.BaselineEER }, detBase)
	for _, r := range rep.Subjects {
		rep.MeanFARAtUser += r.FARAtUser / n
		rep.MeanFRRAtUser += r.FRRAtUser / n
	}
	return rep, nil
}

func addDET(acc []float64, pts []OperatingPoint, grid []float64) {
	for i, v := range FRRAt(pts, grid) {
		acc[i] += v
	}
}

func summarize(name string, rs []SubjectResult, eer func(SubjectResult) float64, det []float64) Summary {
	var s, ss float64
	for _, r := range rs {
		s += eer(r)
	}
	mean := s / float64(len(rs))
	for _, r := range rs {
		d := eer(r) - mean
		ss += d * d
	}
	std := 0.0
	if len(rs) > 1 {
		std = math.Sqrt(ss / float64(len(rs)-1)) // sample deviation, as the study reports
	}
	return Summary{Name: name, MeanEER: mean, StdEER: std, DET: det}
}

// groupRows returns the subjects in order of first appearance and each one's rows
// ordered by session then repetition.
func groupRows(ds *Dataset) ([]string, map[string][]*Row) {
	var subjects []string
	by := map[string][]*Row{}
	for i := range ds.Rows {
		r := &ds.Rows[i]
		if _, ok := by[r.Subject]; !ok {
			subjects = append(subjects, r.Subject)
		}
		by[r.Subject] = append(by[r.Subject], r)
	}
	for _, rows := range by {
		slices.SortStableFunc(rows, func(a, b *Row) int {
			if a.Session != b.Session {
				return a.Session - b.Session
			}
			return a.Rep - b.Rep
		})
	}
	return subjects, by
}

func evalSubject(subj string, subjects []string, by map[string][]*Row, fp uint64, dim int,
	sc *scoring.Scratch, cfg EvalConfig) (SubjectResult, []OperatingPoint, []OperatingPoint, error) {
	rows := by[subj]
	enroll := rows[:cfg.EnrollReps]
	test := rows[cfg.EnrollReps:min(len(rows), cfg.EnrollReps+cfg.GenuineReps)]

	ts, err := scoring.NewTemplateSet(scoring.ModalityKeystroke, cfg.Template)
	if err != nil {
		return SubjectResult{}, nil, nil, err
	}
	out := SubjectResult{Subject: subj}
	flat := make([]float32, 0, len(enroll)*dim)
	for _, r := range enroll {
		_, err := ts.Enroll(scoring.Sample{Vec: r.Vec, Fingerprint: fp})
		switch {
		case errors.Is(err, scoring.ErrMachineTiming) || errors.Is(err, scoring.ErrReplayed):
			out.EnrollRejected++
			continue
		case err != nil:
			return SubjectResult{}, nil, nil, fmt.Errorf("enroll line %d: %w", r.Line, err)
		}
		flat = append(flat, r.Vec...)
	}
	idx, err := cfg.NewIndex(dim)
	if err != nil {
		return SubjectResult{}, nil, nil, fmt.Errorf("new index: %w", err)
	}
	if c, ok := idx.(interface{ Close() error }); ok {
		defer c.Close()
	}
	if err := ts.Train(idx); err != nil {
		return SubjectResult{}, nil, nil, err
	}
	base, err := scoring.FitManhattan(flat, dim)
	if err != nil {
		return SubjectResult{}, nil, nil, err
	}

	_, out.UserThreshold = ts.Threshold()
	var res scoring.Result
	var gen, imp, genBase, impBase []float64
	score := func(r *Row) (float64, float64, error) {
		if err := ts.Score(scoring.Sample{Vec: r.Vec, Fingerprint: fp}, idx, sc, &res); err != nil {
			return 0, 0, fmt.Errorf("score line %d: %w", r.Line, err)
		}
		if res.Status != scoring.StatusScored {
			return 0, 0, fmt.Errorf("score line %d: status %v", r.Line, res.Status)
		}
		if res.Has(scoring.ReasonReplayedSample) || res.Has(scoring.ReasonMachineRegularTiming) {
			out.Flagged++
		}
		return res.Risk, base.Distance(r.Vec, 0), nil
	}
	for _, r := range test {
		s, b, err := score(r)
		if err != nil {
			return SubjectResult{}, nil, nil, err
		}
		gen, genBase = append(gen, s), append(genBase, b)
	}
	for _, other := range subjects {
		if other == subj {
			continue
		}
		orows := by[other]
		for _, r := range orows[:min(len(orows), cfg.ImpostorReps)] {
			s, b, err := score(r)
			if err != nil {
				return SubjectResult{}, nil, nil, err
			}
			imp, impBase = append(imp, s), append(impBase, b)
		}
	}
	out.Genuine, out.Impostor = len(gen), len(imp)
	if out.EER, out.EERThreshold, err = EER(gen, imp); err != nil {
		return SubjectResult{}, nil, nil, err
	}
	if out.BaselineEER, out.BaselineThreshold, err = EER(genBase, impBase); err != nil {
		return SubjectResult{}, nil, nil, err
	}
	out.FARAtUser, out.FRRAtUser = RatesAt(gen, imp, out.UserThreshold)
	eng, _ := Curve(gen, imp)
	bas, _ := Curve(genBase, impBase)
	return out, eng, bas, nil
}
