package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/behaviorauth/engine/index"
	"github.com/behaviorauth/engine/scoring"
	"github.com/behaviorauth/engine/scoring/cmu"
)

// newIndex builds each evaluated subject's nearest-neighbour index (a scoring.NewIndexFunc): the same
// ID-mapped flat L2 FAISS index the engine's index pool gives every profile, so the evaluation measures the
// engine's own scoring path.
func newIndex(dim int) (scoring.Index, error) {
	return index.NewIDMap(dim, index.L2)
}

// runEval evaluates the detector: behaviorctl eval FILE.csv [-png det.png] [-json out.json].
func runEval(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	pngOut := fs.String("png", "", "write the averaged DET curves to this PNG file")
	jsonOut := fs.String("json", "", "write the full report to this JSON file")
	enroll := fs.Int("enroll", 200, "repetitions per subject that enroll")
	genuine := fs.Int("genuine", 200, "repetitions per subject tested as genuine")
	impostor := fs.Int("impostor", 5, "first repetitions of each other subject tested as impostor")
	quiet := fs.Bool("q", false, "no progress bar")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: behaviorctl eval FILE.csv [-png det.png] [-json out.json] [-enroll 200] [-genuine 200] [-impostor 5] [-q]")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	ds, err := cmu.ReadCSV(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("eval %s: %w", pos[0], err)
	}
	cfg := cmu.EvalConfig{
		NewIndex:   newIndex,
		EnrollReps: *enroll, GenuineReps: *genuine, ImpostorReps: *impostor,
	}
	if !*quiet {
		bar := newProgressBar(e.stderr, "subjects", e.stderrIsTerminal)
		cfg.Progress = bar.update
	}
	rep, err := cmu.Evaluate(ctx, ds, cfg)
	if err != nil {
		return fmt.Errorf("eval %s: %w", pos[0], err)
	}
	if err := printReport(e.stdout, pos[0], ds, rep); err != nil {
		return err
	}
	if *jsonOut != "" {
		if err := writeFile(*jsonOut, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		}); err != nil {
			return fmt.Errorf("eval: write json: %w", err)
		}
	}
	if *pngOut != "" {
		curves := []cmu.PlotCurve{
			{Label: "ENGINE", FRR: rep.Engine.DET, Color: cmu.ColorEngine},
			{Label: "SCALED MANHATTAN", FRR: rep.Baseline.DET, Color: cmu.ColorBaseline},
		}
		if err := writeFile(*pngOut, func(w io.Writer) error {
			return cmu.WriteDETPNG(w, "DET, MEAN OVER SUBJECTS", rep.DETFAR, curves)
		}); err != nil {
			return fmt.Errorf("eval: write png: %w", err)
		}
	}
	return nil
}

func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	return errors.Join(write(f), f.Close())
}

func printReport(w io.Writer, name string, ds *cmu.Dataset, rep *cmu.Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%s: %d subjects, %d rows, %d keys; protocol: enroll %d, genuine %d, impostor first %d of each other subject\n\n",
		name, len(rep.Subjects), len(ds.Rows), len(ds.Keys), rep.Enroll, rep.Genuine, rep.ImpostorReps)
	fmt.Fprintln(tw, "subject\tEER\tEER thr (risk)\tuser thr (risk)\tFAR@user\tFRR@user\tbaseline EER\tbaseline thr\t")
	for _, s := range rep.Subjects {
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\t%.3f\t%.3f\t%.4f\t%.2f\t\n", s.Subject, s.EER, s.EERThreshold,
			s.UserThreshold, s.FARAtUser, s.FRRAtUser, s.BaselineEER, s.BaselineThreshold)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-54s mean EER %.4f  sd %.4f\n", rep.Engine.Name, rep.Engine.MeanEER, rep.Engine.StdEER)
	fmt.Fprintf(w, "%-54s mean EER %.4f  sd %.4f\n", rep.Baseline.Name+", this data", rep.Baseline.MeanEER, rep.Baseline.StdEER)
	fmt.Fprintf(w, "%-54s mean EER %.4f  sd 0.0690\n", "published best (scaled Manhattan, real CMU data)", rep.Published)
	fmt.Fprintf(w, "engine at each user's own calibrated threshold: mean FAR %.3f, mean FRR %.3f\n", rep.MeanFARAtUser, rep.MeanFRRAtUser)
	var rejected, flagged int
	for _, s := range rep.Subjects {
		rejected += s.EnrollRejected
		flagged += s.Flagged
	}
	if rejected+flagged > 0 {
		fmt.Fprintf(w, "replay/machine checks: %d enrollment repetitions refused, %d attempts flagged\n", rejected, flagged)
	}
	fmt.Fprintln(w, "note: the published figure is on the real data; compare the engine with the baseline on the same data.")
	return nil
}
