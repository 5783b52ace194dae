package nodetest

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/behaviorauth/engine/config"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// binary builds cmd/behaviord once per test binary. Nodes run as their own processes (the binary users run)
// when a test needs several: they talk over real sockets, and the test process hosts none of them.
func binary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "behaviord-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "behaviord")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/behaviorauth/engine/cmd/behaviord")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		tb.Fatalf("nodetest: build behaviord: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

// Process is a behaviord node running as a child process.
type Process struct {
	URL    string
	Config config.Config
	cmd    *exec.Cmd
	logs   *syncBuffer
	done   chan error
	once   sync.Once
}

// StartProcess runs the behaviord binary with cfg (written to a configuration file; its HTTP listener must name
// a port, see FreePort) and waits until it is ready. It is stopped with SIGTERM when the test ends.
func StartProcess(tb testing.TB, cfg config.Config) *Process {
	tb.Helper()
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("nodetest: invalid config: %v", err)
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	file := filepath.Join(tb.TempDir(), "cluster.yaml")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	p := &Process{URL: "http://" + cfg.HTTP.Listen, Config: cfg, logs: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary(tb), "-config", file)
	// The configuration file is complete: nothing from the test's environment (make's secrets, DATABASE_URL)
	// may override it.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BEHAVIOR_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	// The node dies with the test binary even when a crash skips the cleanup (Linux).
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	tb.Cleanup(func() {
		p.Stop(tb)
		if tb.Failed() {
			tb.Logf("node %s logs:\n%s", p.URL, tail(p.logs.String(), 120))
		}
	})
	WaitFor(tb, 60*time.Second, func() bool {
		select {
		case err := <-p.done:
			p.done <- err
			tb.Fatalf("nodetest: node %s exited during start: %v\n%s", p.URL, err, tail(p.logs.String(), 60))
		default:
		}
		st, _ := p.Ready()
		return st == http.StatusOK
	}, "node "+p.URL+" ready")
	return p
}

// Ready answers /readyz's status code and the members the node sees.
func (p *Process) Ready() (int, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	var body struct {
		Members int `json:"members"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Members
}

// Members is the number of cluster members the node sees (0 when it does not answer).
func (p *Process) Members() int {
	_, m := p.Ready()
	return m
}

// Stop sends SIGTERM (the operator's stop) and waits for the node to drain and exit.
func (p *Process) Stop(tb testing.TB) {
	tb.Helper()
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-p.done:
			if err != nil {
				tb.Errorf("nodetest: node %s exited with %v", p.URL, err)
			}
		case <-time.After(45 * time.Second):
			_ = p.cmd.Process.Kill()
			tb.Errorf("nodetest: node %s did not stop within 45s", p.URL)
		}
	})
}

// Logs returns what the process wrote so far.
func (p *Process) Logs() string { return p.logs.String() }

// ProcessConfig returns a configuration for a process node on free loopback ports (HTTP, remote, automanaged).
func ProcessConfig(tb testing.TB, databaseURL string) config.Config {
	tb.Helper()
	cfg := Config(tb, databaseURL)
	cfg.HTTP.Listen = "127.0.0.1:" + strconv.Itoa(FreePort(tb))
	cfg.Telemetry.LogLevel = "info"
	return cfg
}
