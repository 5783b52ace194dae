package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/behaviorauth/engine/scoring/cmu"
)

// runGenCMU writes a synthetic dataset: behaviorctl gen-cmu -o file.csv [-seed N]
// [-subjects 51] [-sessions 8] [-reps 50].
func runGenCMU(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("gen-cmu", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	out := fs.String("o", "-", "output file (- for standard output)")
	seed := fs.Uint64("seed", 1, "random seed (the same seed gives the same file)")
	subjects := fs.Int("subjects", 51, "number of subjects")
	sessions := fs.Int("sessions", 8, "sessions per subject")
	reps := fs.Int("reps", 50, "repetitions per session")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: behaviorctl gen-cmu [-o file.csv] [-seed N] [-subjects N] [-sessions N] [-reps N]")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		fs.Usage()
		return errUsage
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cfg := cmu.GenConfig{Seed: *seed, Subjects: *subjects, Sessions: *sessions, Reps: *reps}
	var w io.Writer = e.stdout
	var f *os.File
	if *out != "-" {
		if f, err = os.Create(*out); err != nil {
			return fmt.Errorf("gen-cmu: %w", err)
		}
		w = f
	}
	err = cmu.Generate(w, cfg)
	if f != nil {
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		return fmt.Errorf("gen-cmu: %w", err)
	}
	if f != nil {
		e.log.Info("wrote synthetic CMU-layout dataset", "file", *out, "subjects", *subjects,
			"rows", *subjects**sessions**reps, "seed", *seed)
	}
	return nil
}
