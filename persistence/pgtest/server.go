package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/behaviorauth/engine/persistence"
)

// DefaultBinDir is where Debian's postgresql-15 package installs the server binaries. PG_BIN overrides it.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// Server is a private PostgreSQL server for one test: its own data directory under t.TempDir(), its own port on
// 127.0.0.1 and no Unix socket, so that a test can stop and start it (an outage) without touching the shared
// server that other packages' tests use. Its one database is migrated. The server is stopped when the test ends.
type Server struct {
	tb     testing.TB
	bin    string
	data   string
	log    string
	port   int
	asUser string // run the binaries as this user (root cannot run PostgreSQL), or "" to run them directly

	mu      sync.Mutex
	running bool
}

// NewServer initializes a data directory, starts the server and creates and migrates its database. It fails the
// test when PostgreSQL's binaries are missing or the server does not start.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	bin := os.Getenv("PG_BIN")
	if bin == "" {
		bin = DefaultBinDir
	}
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		tb.Fatalf("pgtest: PostgreSQL server binaries not found in %s (install postgresql-15 or set PG_BIN): %v", bin, err)
	}
	dir := tb.TempDir()
	s := &Server{tb: tb, bin: bin, data: filepath.Join(dir, "pgdata"), log: filepath.Join(dir, "server.log"), port: freePort(tb)}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: run it as `postgres`, which must reach and own its directories.
		if _, err := user.Lookup("postgres"); err != nil {
			tb.Fatalf("pgtest: running as root needs the `postgres` user to run the server: %v", err)
		}
		s.asUser = "postgres"
		// t.TempDir makes 0700 directories owned by root: let postgres traverse them and own its own.
		for _, d := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(d, 0o711); err != nil {
				tb.Fatalf("pgtest: %v", err)
			}
		}
		if out, err := exec.Command("chown", "postgres:postgres", dir).CombinedOutput(); err != nil {
			tb.Fatalf("pgtest: chown %s: %v: %s", dir, err, out)
		}
	}
	if out, err := s.run("initdb", "-D", s.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		tb.Fatalf("pgtest: initdb: %v: %s", err, out)
	}
	tb.Cleanup(s.stopQuietly)
	s.Start()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		tb.Fatalf("pgtest: connect to the private server: %v", err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "create database behavior"); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	pool, err := persistence.Open(ctx, s.URL(), persistence.PoolConfig{MaxConns: 2})
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	defer pool.Close()
	if err := persistence.Migrate(ctx, pool); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return s
}

// URL is the connection string of the server's migrated database.
func (s *Server) URL() string { return s.url("behavior") }

func (s *Server) url(db string) string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(s.port) + "/" + db + "?sslmode=disable"
}

// Start starts the server (on the same port as before) and returns once it accepts connections. Starting a
// running server is a no-op.
func (s *Server) Start() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return
	}
	// Durability against a machine crash does not matter here, but every committed transaction must survive a
	// server stop, so synchronous_commit stays on.
	opts := strings.Join([]string{
		"-p", strconv.Itoa(s.port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=100", "-c", "shared_buffers=16MB",
	}, " ")
	if out, err := s.run("pg_ctl", "-D", s.data, "-l", s.log, "-w", "-t", "60", "-o", opts, "start"); err != nil {
		s.tb.Fatalf("pgtest: start the private server: %v: %s\n%s", err, out, s.logTail())
	}
	s.running = true
}

// Stop shuts the server down (fast mode: open connections are cut, committed data stays) and returns once it
// has exited. Stopping a stopped server is a no-op.
func (s *Server) Stop() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return
	}
	if out, err := s.run("pg_ctl", "-D", s.data, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		s.tb.Fatalf("pgtest: stop the private server: %v: %s", err, out)
	}
	s.running = false
}

func (s *Server) stopQuietly() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return
	}
	if out, err := s.run("pg_ctl", "-D", s.data, "-m", "immediate", "-w", "-t", "60", "stop"); err != nil {
		s.tb.Logf("pgtest: stop the private server: %v: %s", err, out)
	}
	s.running = false
}

// run runs one of the server's binaries, as the server's user when the test runs as root.
func (s *Server) run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	// pg_ctl leaves the server running in the background with its output in the log file; without a stdin of
	// its own the child would keep this process's pipes open.
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("pgtest: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
