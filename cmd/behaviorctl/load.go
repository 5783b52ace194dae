package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/behaviorauth/engine/loadgen"
)

// runLoad: behaviorctl load -url URL -users N -duration D [-rate R] [-window W] [-echo] [-json FILE]
// [-cpuprofile FILE]
func runLoad(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cfg loadgen.Config
	fs.StringVar(&cfg.BaseURL, "url", "http://127.0.0.1:8080", "node (or echo server) base URL; loopback only")
	fs.IntVar(&cfg.Users, "users", 16, "simulated users, one session and one WebSocket each")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to stream")
	fs.Float64Var(&cfg.Rate, "rate", 0, "frames per second in total (each completes one sample); 0 = as fast as the node answers")
	fs.IntVar(&cfg.Window, "window", 1, "frames in flight per connection")
	fs.BoolVar(&cfg.Echo, "echo", false, "target is `behaviorctl echo` (the machine's ceiling), not a node")
	fs.IntVar(&cfg.Prefix, "prefix", 42, "phone-number prefix of this run's users (0..99); existing users are reused")
	fs.IntVar(&cfg.Setup, "setup", 16, "users set up at once")
	fs.DurationVar(&cfg.StepUpDelay, "step-up-delay", 2*time.Second,
		"how long a simulated user takes to answer a step-up with the MPIN (the session streams on, challenged)")
	jsonOut := fs.String("json", "", "also write the figures as JSON to this file")
	cpuProfile := fs.String("cpuprofile", "", "write the load generator's own CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return parseErr(err)
	}
	if err := loopbackOnly(cfg.BaseURL); err != nil {
		return err
	}
	cfg.Progress = e.stderr
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "target %s  users %d  %.1fs\n", res.Target, res.Users, res.Seconds)
	fmt.Fprintf(e.stdout, "events/s %.0f  samples/s %.0f  decision latency p50 %.0fus p99 %.0fus p99.9 %.0fus\n",
		res.EventsPerSec, res.SamplesPerSec, res.LatencyP50us, res.LatencyP99us, res.LatencyP999us)
	fmt.Fprintf(e.stdout, "frames %d  events %d  decisions %d  errors %d  reconnects %d  step-ups %d  sessions reopened %d\n",
		res.Frames, res.Events, res.Decisions, res.Errors, res.Reconnects, res.StepUps, res.SessionsReopened)
	if len(res.ErrorKinds) > 0 {
		kinds := slices.Sorted(maps.Keys(res.ErrorKinds))
		for i, k := range kinds {
			kinds[i] = fmt.Sprintf("%s: %d", k, res.ErrorKinds[k])
		}
		fmt.Fprintf(e.stdout, "errors by kind: %s\n", strings.Join(kinds, ", "))
	}
	return writeJSON(*jsonOut, res)
}

// runEcho: behaviorctl echo -listen ADDR — the bare gorilla/websocket echo server `make bench` measures the
// machine's ceiling with.
func runEcho(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	listen := fs.String("listen", "127.0.0.1:8091", "address to serve /echo on")
	if err := fs.Parse(args); err != nil {
		return parseErr(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	srv := &http.Server{Handler: loadgen.EchoHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	e.log.Info("echo server", "listen", ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runIdle: behaviorctl idle -url URL -users N -node-pid PID — opens N quiet sessions and reports the node's
// resident memory per live session.
func runIdle(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cfg loadgen.Config
	fs.StringVar(&cfg.BaseURL, "url", "http://127.0.0.1:8080", "node base URL; loopback only")
	fs.IntVar(&cfg.Users, "users", 1000, "idle sessions to open")
	fs.IntVar(&cfg.Prefix, "prefix", 43, "phone-number prefix of this run's users (0..99)")
	fs.IntVar(&cfg.Setup, "setup", 32, "sessions set up at once")
	pid := fs.Int("node-pid", 0, "process id of the node, to read its resident memory")
	settle := fs.Duration("settle", 3*time.Second, "wait after opening before measuring")
	jsonOut := fs.String("json", "", "also write the figures as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return parseErr(err)
	}
	if err := loopbackOnly(cfg.BaseURL); err != nil {
		return err
	}
	if *pid <= 0 {
		return fmt.Errorf("idle: -node-pid is required")
	}
	before, err := loadgen.RSS(*pid)
	if err != nil {
		return err
	}
	type result struct {
		Sessions        int     `json:"sessions"`
		RSSBeforeBytes  int64   `json:"rss_before_bytes"`
		RSSAfterBytes   int64   `json:"rss_after_bytes"`
		BytesPerSession float64 `json:"bytes_per_session"`
		KiBPerSession   float64 `json:"kib_per_session"`
		SetupSeconds    float64 `json:"setup_seconds"`
		Note            string  `json:"note"`
	}
	var res result
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	err = loadgen.Idle(ictx, cfg, func(open int) {
		res.SetupSeconds = time.Since(start).Seconds()
		time.Sleep(*settle)
		after, rerr := loadgen.RSS(*pid)
		if rerr != nil {
			err = rerr
		}
		res.Sessions, res.RSSBeforeBytes, res.RSSAfterBytes = open, before, after
		res.BytesPerSession = float64(after-before) / float64(open)
		res.KiBPerSession = res.BytesPerSession / 1024
		res.Note = "resident memory of the node process, after minus before, divided by the sessions"
		cancel()
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "idle sessions %d  node RSS %.1f MiB -> %.1f MiB  %.1f KiB per live session  (setup %.0fs)\n",
		res.Sessions, float64(res.RSSBeforeBytes)/(1<<20), float64(res.RSSAfterBytes)/(1<<20), res.KiBPerSession, res.SetupSeconds)
	return writeJSON(*jsonOut, res)
}

func writeJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// loopbackOnly refuses targets outside 127.0.0.0/8 and ::1: load never leaves the machine.
func loopbackOnly(base string) error {
	u, err := parseURL(base)
	if err != nil {
		return err
	}
	ips, err := net.LookupIP(u)
	if err != nil {
		return fmt.Errorf("load target %q: %w", base, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("load target %q resolves to %s: only loopback addresses are allowed", base, ip)
		}
	}
	return nil
}

// parseErr keeps -h distinct (exit 0 after the usage) from a bad flag (exit 2).
func parseErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errUsage
}
