// Package nodetest starts real behaviord nodes for integration tests: real PostgreSQL (a fresh database per
// test), real cluster, real sockets on loopback, through the same node.New and Run that the binary uses.
package nodetest

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/node"
	"github.com/behaviorauth/engine/persistence/pgtest"
)

// OperatorKey is the operator key of every test node.
const OperatorKey = "test-operator-key-0123456789abcdef"

// Node is a running test node.
type Node struct {
	*node.Node
	Config config.Config
	// URL is the node's base URL, such as http://127.0.0.1:41234.
	URL      string
	logs     *syncBuffer
	stop     context.CancelFunc
	done     chan error
	stopOnce sync.Once
}

// Config returns a valid configuration for a test node on free loopback ports with cheap argon2 parameters.
// databaseURL is typically pgtest.URL(t).
func Config(tb testing.TB, databaseURL string) config.Config {
	tb.Helper()
	cfg := config.Default()
	cfg.Database.URL = databaseURL
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Cluster.Name = "test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	cfg.Cluster.Port = 0
	amPort := FreePort(tb)
	cfg.Cluster.Automanaged.Port = amPort
	cfg.Cluster.Automanaged.Hosts = []string{"127.0.0.1:" + strconv.Itoa(amPort)}
	cfg.Auth.SigningKey = "test-signing-key-0123456789abcdef-0123456789"
	cfg.Auth.Pepper = "test-pepper-0123456789"
	cfg.Auth.OperatorKey = OperatorKey
	cfg.Auth.Argon2MemoryKiB = 1024
	cfg.Auth.Argon2Time = 1
	cfg.Telemetry.LogLevel = "debug"
	cfg.HTTP.ShutdownTimeout = 10 * time.Second
	return cfg
}

// Start runs a node on a fresh database; mutate adjusts the configuration first (may be nil). The node is
// stopped when the test ends; its logs are printed if the test failed.
func Start(tb testing.TB, mutate func(*config.Config)) *Node {
	tb.Helper()
	cfg := Config(tb, pgtest.URL(tb))
	if mutate != nil {
		mutate(&cfg)
	}
	return StartWith(tb, cfg)
}

// StartWith runs a node with exactly cfg; opts reach node.New (node.WithEngineOptions injects faults).
func StartWith(tb testing.TB, cfg config.Config, opts ...node.Option) *Node {
	tb.Helper()
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("nodetest: invalid config: %v", err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	n, err := node.New(ctx, cfg, append([]node.Option{node.WithLogOutput(logs)}, opts...)...)
	cancel()
	if err != nil {
		tb.Fatalf("nodetest: start node: %v\n%s", err, logs.String())
	}
	runCtx, stop := context.WithCancel(context.Background())
	tn := &Node{Node: n, Config: cfg, URL: "http://" + n.Addr(), logs: logs, stop: stop, done: make(chan error, 1)}
	go func() { tn.done <- n.Run(runCtx) }()
	tb.Cleanup(func() {
		tn.Stop(tb)
		if tb.Failed() {
			tb.Logf("node %s logs:\n%s", tn.URL, tail(logs.String(), 200))
		}
	})
	WaitFor(tb, 20*time.Second, func() bool {
		resp, err := http.Get(tn.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "node ready")
	return tn
}

// Stop drains and stops the node (idempotent) and returns once Run has returned.
func (n *Node) Stop(tb testing.TB) {
	tb.Helper()
	n.stopOnce.Do(func() {
		n.stop()
		select {
		case err := <-n.done:
			if err != nil {
				tb.Errorf("nodetest: node stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			tb.Errorf("nodetest: node did not stop within 30s")
		}
	})
}

// Logs returns what the node logged so far.
func (n *Node) Logs() string { return n.logs.String() }

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("nodetest: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WaitFor polls cond until it holds or timeout passes, then fails the test naming what.
func WaitFor(tb testing.TB, timeout time.Duration, cond func() bool, what string) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
