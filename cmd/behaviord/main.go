// Command behaviord runs one node of the behavioral authentication cluster: configuration from cluster.yaml,
// the environment and flags; SIGINT or SIGTERM drains and stops it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/node"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	cfg, err := config.Load(defaultConfigPath(), args, nil)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "behaviord:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	n, err := node.New(startCtx, cfg)
	cancel()
	if err != nil {
		fmt.Fprintln(stderr, "behaviord:", err)
		return 1
	}
	if err := n.Run(ctx); err != nil {
		n.Logger().Error("node stopped with an error", "err", err)
		return 1
	}
	return 0
}

// defaultConfigPath is cluster.yaml in the working directory when it exists (the repository root under
// `make run`); -config or BEHAVIOR_CONFIG names another.
func defaultConfigPath() string {
	if p := os.Getenv("BEHAVIOR_CONFIG"); p != "" {
		return p
	}
	if _, err := os.Stat("cluster.yaml"); err == nil {
		return "cluster.yaml"
	}
	return ""
}
