package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/behaviorauth/engine/scoring/cmu"
)

func testEnv() (*env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &env{stdout: &out, stderr: &errb, log: slog.New(slog.NewTextHandler(io.Discard, nil))}, &out, &errb
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args []string
		pos  []string
		png  string
	}{
		{[]string{"f.csv", "-png", "a.png"}, []string{"f.csv"}, "a.png"},
		{[]string{"-png", "a.png", "f.csv"}, []string{"f.csv"}, "a.png"},
		{[]string{"a", "-png=x", "b"}, []string{"a", "b"}, "x"},
		{[]string{"-png", "x", "--", "-weird.csv"}, []string{"-weird.csv"}, "x"},
		{[]string{"a", "--", "-png", "y"}, []string{"a", "-png", "y"}, ""},
		{nil, nil, ""},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		p := fs.String("png", "", "")
		pos, err := parseArgs(fs, tt.args)
		if err != nil || !slices.Equal(pos, tt.pos) || *p != tt.png {
			t.Errorf("%q: pos %q png %q err %v; want %q %q", tt.args, pos, *p, err, tt.pos, tt.png)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := parseArgs(fs, []string{"-nope"}); err == nil {
		t.Fatal("unknown flag accepted")
	}
}

func TestRunDispatch(t *testing.T) {
	e, _, errb := testEnv()
	if err := run(context.Background(), e, nil); !errors.Is(err, errUsage) || !strings.Contains(errb.String(), "gen-cmu") {
		t.Fatalf("no command: %v, %q", err, errb.String())
	}
	errb.Reset()
	if err := run(context.Background(), e, []string{"frobnicate"}); !errors.Is(err, errUsage) || !strings.Contains(errb.String(), "unknown command") {
		t.Fatalf("unknown command: %v", err)
	}
	if err := run(context.Background(), e, []string{"help"}); err != nil {
		t.Fatalf("help: %v", err)
	}
	for name, c := range commands() {
		if c.summary == "" || c.run == nil {
			t.Errorf("command %q incomplete", name)
		}
		if err := run(context.Background(), e, []string{name, "-h"}); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s -h: %v", name, err)
		}
	}
	if err := run(context.Background(), e, []string{"eval"}); !errors.Is(err, errUsage) {
		t.Errorf("eval without a file: %v", err)
	}
}

func TestGenAndEval(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "syn.csv")
	e, out, errb := testEnv()
	ctx := context.Background()
	if err := run(ctx, e, []string{"gen-cmu", "-o", csvPath, "-subjects", "4", "-sessions", "2", "-reps", "25", "-seed", "3"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := cmu.ReadCSV(f)
	f.Close()
	if err != nil || len(ds.Rows) != 200 {
		t.Fatalf("generated file: %v", err)
	}

	pngPath, jsonPath := filepath.Join(dir, "det.png"), filepath.Join(dir, "out.json")
	args := []string{"eval", csvPath, "-png", pngPath, "-json", jsonPath, "-enroll", "25", "-genuine", "25"}
	if err := run(ctx, e, args); err != nil {
		t.Fatalf("eval: %v\n%s", err, errb.String())
	}
	for _, want := range []string{"s002", "s005", "mean EER", "scaled Manhattan", "0.0960", "published"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errb.String(), "4/4") {
		t.Errorf("no progress on stderr: %q", errb.String())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep cmu.Report
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Subjects) != 4 || rep.Published != cmu.PublishedEER {
		t.Fatalf("json report: %v %+v", err, rep)
	}
	pf, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if _, err := png.Decode(pf); err != nil {
		t.Fatalf("png: %v", err)
	}

	if err := run(ctx, e, []string{"eval", filepath.Join(dir, "missing.csv")}); err == nil {
		t.Fatal("missing file accepted")
	}
	bad := filepath.Join(dir, "bad.csv")
	_ = os.WriteFile(bad, []byte("subject,sessionIndex,rep,H.a,DD.a.b,UD.a.b,H.b\ns1,1,1,0.1,zz,0.1,0.1\n"), 0o600)
	err = run(ctx, e, []string{"eval", bad})
	var pe *cmu.ParseError
	if !errors.As(err, &pe) || pe.Line != 2 || pe.Column != 5 {
		t.Fatalf("bad csv: %v", err)
	}
}

func TestProgressBar(t *testing.T) {
	var term, plain bytes.Buffer
	clock := time.Unix(0, 0)
	for _, pb := range []*progressBar{newProgressBar(&term, "x", true), newProgressBar(&plain, "x", false)} {
		pb.start = clock
		pb.now = func() time.Time { return clock.Add(2 * time.Second) }
		for i := 1; i <= 20; i++ {
			pb.update(i, 20)
		}
	}
	if n := strings.Count(term.String(), "\r"); n != 20 || !strings.HasSuffix(term.String(), "\n") {
		t.Fatalf("terminal: %d redraws: %q", n, term.String())
	}
	lines := strings.Split(strings.TrimSpace(plain.String()), "\n")
	// The first update, then one line per tenth.
	if len(lines) != 11 || !strings.Contains(lines[10], "[##############################] 20/20") {
		t.Fatalf("plain output:\n%s", plain.String())
	}
	if !strings.Contains(lines[1], "2/20 2s, eta 18s") {
		t.Fatalf("eta: %q", lines[1])
	}
}
