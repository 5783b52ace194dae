package auth

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/behaviorauth/engine/persistence"
	"github.com/behaviorauth/engine/persistence/pgtest"
)

const (
	testSigningKey  = "test-signing-key-0123456789abcdef"
	testPepper      = "test-pepper-0123456789"
	testOperatorKey = "test-operator-key-0123456789"
	testPassword    = "correct horse battery"
	testMPIN        = "482916"
)

// cheapConfig is a valid Config with argon2 parameters cheap enough for tests and limits that stay out of the
// way unless a test lowers them.
func cheapConfig() Config {
	return Config{
		SigningKey: testSigningKey, Pepper: testPepper, OperatorKey: testOperatorKey,
		Argon2Time: 1, Argon2MemoryKiB: 64, Argon2Threads: 1,
		RatePerAddress: 10000, RatePerAccount: 10000,
	}
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	// A fixed instant at the start of a minute, so that rate windows are predictable.
	return &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	svc   *Service
	clock *clock
	pool  *pgxpool.Pool
	store *persistence.Accounts
}

// newFixture returns a Service on a fresh database, with cheapConfig changed by edit (when not nil) and a test
// clock.
func newFixture(tb testing.TB, edit func(*Config)) *fixture {
	tb.Helper()
	cfg := cheapConfig()
	if edit != nil {
		edit(&cfg)
	}
	pool := pgtest.Pool(tb)
	store := persistence.NewAccounts(pool)
	clk := newClock()
	svc, err := New(cfg, store, slog.New(slog.NewTextHandler(io.Discard, nil)), WithClock(clk.Now))
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return &fixture{svc: svc, clock: clk, pool: pool, store: store}
}

// phone returns the i-th of a family of valid Indian mobile numbers.
func phone(i int) string { return fmt.Sprintf("+9198765%05d", i) }

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// register creates the user of phone(i) with testPassword and testMPIN.
func (f *fixture) register(tb testing.TB, i int) string {
	tb.Helper()
	id, err := f.svc.Register(ctxT(tb), RegisterRequest{Phone: phone(i), Password: testPassword, MPIN: testMPIN},
		Client{Addr: "198.51.100.1"})
	if err != nil {
		tb.Fatalf("Register %s: %v", phone(i), err)
	}
	return id
}

// login logs the user of phone(i) in with testPassword.
func (f *fixture) login(tb testing.TB, i int) Tokens {
	tb.Helper()
	tok, err := f.svc.Login(ctxT(tb), LoginRequest{Phone: phone(i), Password: testPassword},
		Client{Addr: "198.51.100.1"})
	if err != nil {
		tb.Fatalf("Login %s: %v", phone(i), err)
	}
	return tok
}

// count runs a count(*) query.
func (f *fixture) count(tb testing.TB, sql string, args ...any) int {
	tb.Helper()
	var n int
	if err := f.pool.QueryRow(ctxT(tb), sql, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return n
}
