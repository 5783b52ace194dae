// Command behaviorctl is the operators' tool: it evaluates the detector on keystroke
// benchmark data, generates synthetic benchmark data, and generates load against a node. Each subcommand has its own
// flags: behaviorctl <command> -h.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

// env is what a subcommand gets besides its arguments: where to write and log.
type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger
	// stderrIsTerminal lets progress output redraw one line instead of printing many.
	stderrIsTerminal bool
}

// command is one subcommand. To add one, write its run function in its own file and add
// an entry to commands.
type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"eval":    {"evaluate the detector on a CMU-layout keystroke CSV (EER, DET curve)", runEval},
		"gen-cmu": {"write a synthetic keystroke dataset in the CMU benchmark layout", runGenCMU},
		"load":    {"stream realistic traffic at a node (or the echo ceiling) and report throughput and latency", runLoad},
		"echo":    {"serve a bare WebSocket echo server: the machine's ceiling for `load -echo`", runEcho},
		"idle":    {"hold many quiet sessions open and report the node's memory per live session", runIdle},
		"status":  {"each node's readiness, cluster members and live figures", runStatus},
		"drain":   {"drain a node and wait until it has stopped (shrinking a cluster)", runDrain},
	}
}

// errUsage marks a usage error (exit status 2); its message has been printed already.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{
		stdout:           os.Stdout,
		stderr:           os.Stderr,
		log:              slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
		stderrIsTerminal: isTerminal(os.Stderr),
	}
	err := run(ctx, e, os.Args[1:])
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		e.log.Error("behaviorctl failed", "err", err)
		os.Exit(1)
	}
}

// run dispatches args[0] to its subcommand.
func run(ctx context.Context, e *env, args []string) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr, cmds)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "behaviorctl: unknown command %q\n", args[0])
		usage(e.stderr, cmds)
		return errUsage
	}
	return c.run(ctx, e, args[1:])
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: behaviorctl <command> [flags] [args]")
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
}

// parseArgs parses flags that may come before, between or after positional arguments
// (the flag package alone stops at the first positional one) and returns the positional
// arguments. Everything after "--" is positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
