// Package pgtest gives each test its own freshly migrated database on the real PostgreSQL that DATABASE_URL names
// (`make test` starts the project-local one). A test that needs Postgres and finds none fails: it never skips.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/behaviorauth/engine/persistence"
)

// URL returns a connection string for a new, migrated database that is dropped when the test ends.
func URL(tb testing.TB) string {
	tb.Helper()
	return URLAt(tb, -1)
}

// URLAt is URL with the database migrated only up to version (all the way when version is negative), for a test
// of the migrations after it.
func URLAt(tb testing.TB, version int32) string {
	tb.Helper()
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		tb.Fatal("pgtest: DATABASE_URL is not set; run the tests through `make test`, which starts the project's PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("pgtest: connect %s: %v", redact(base), err)
	}
	defer admin.Close(context.Background())

	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "create database "+name); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("pgtest: parse DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	dbURL := u.String()

	pool, err := persistence.Open(ctx, dbURL, persistence.PoolConfig{MaxConns: 2})
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	if version < 0 {
		err = persistence.Migrate(ctx, pool)
	} else {
		err = persistence.MigrateTo(ctx, pool, version)
	}
	if err != nil {
		pool.Close()
		tb.Fatalf("pgtest: %v", err)
	}
	pool.Close()

	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Logf("pgtest: drop %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "drop database if exists "+name+" with (force)"); err != nil {
			tb.Logf("pgtest: drop %s: %v", name, err)
		}
	})
	return dbURL
}

// Pool returns a pool on a new, migrated database (see URL), closed when the test ends.
func Pool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := persistence.Open(ctx, URL(tb), persistence.PoolConfig{MaxConns: 20})
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
