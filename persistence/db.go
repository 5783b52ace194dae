// Package persistence keeps what must last: users and credentials, tokens, sessions and decisions, profiles and
// templates, feedback, snapshots and the audit trail, in PostgreSQL through pgx. All SQL of the project lives here.
// Migrations are embedded in the binary and applied at start.
package persistence

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
	"go.opentelemetry.io/otel/trace"
)

//go:embed migrations/*.sql
var migrations embed.FS

// versionTable is where tern records the applied migration version.
const versionTable = "schema_version"

// PoolConfig tunes the connection pool.
type PoolConfig struct {
	// MaxConns bounds open connections. Default 16.
	MaxConns int32
	// ConnectTimeout bounds each connection attempt. Default 5s.
	ConnectTimeout time.Duration
	// Tracer, when set, makes a span of every query run inside a traced request.
	Tracer trace.TracerProvider
}

// Open connects a pool to url and checks that the database answers before ctx's deadline.
func Open(ctx context.Context, url string, pc PoolConfig) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("persistence: parse database url: %w", err)
	}
	cfg.MaxConns = 16
	if pc.MaxConns > 0 {
		cfg.MaxConns = pc.MaxConns
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	if pc.ConnectTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = pc.ConnectTimeout
	}
	if pc.Tracer != nil {
		cfg.ConnConfig.Tracer = queryTracer{tr: pc.Tracer.Tracer("github.com/behaviorauth/engine/persistence")}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("persistence: open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("persistence: ping: %w", err)
	}
	return pool, nil
}

// Migrate applies every embedded migration not yet applied. Tern takes an advisory lock, so nodes starting at
// the same time apply each migration once.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("persistence: migrate: acquire: %w", err)
	}
	defer conn.Release()
	return migrateConn(ctx, conn.Conn())
}

// MigrateTo applies the embedded migrations up to version and no further, so that a test of a migration can start
// from the schema before it. It refuses to go down: the migrations have no down steps.
func MigrateTo(ctx context.Context, pool *pgxpool.Pool, version int32) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("persistence: migrate: acquire: %w", err)
	}
	defer conn.Release()
	return migrateConnTo(ctx, conn.Conn(), version)
}

func migrateConn(ctx context.Context, conn *pgx.Conn) error {
	return migrateConnTo(ctx, conn, -1)
}

// migrateConnTo migrates to version, or to the newest one when version is negative.
func migrateConnTo(ctx context.Context, conn *pgx.Conn, version int32) error {
	m, err := migrate.NewMigrator(ctx, conn, versionTable)
	if err != nil {
		return fmt.Errorf("persistence: migrator: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("persistence: migrations: %w", err)
	}
	if err := m.LoadMigrations(sub); err != nil {
		return fmt.Errorf("persistence: load migrations: %w", err)
	}
	if version < 0 {
		err = m.Migrate(ctx)
	} else {
		var current int32
		if current, err = m.GetCurrentVersion(ctx); err == nil {
			if version < current {
				return fmt.Errorf("persistence: migrate to %d: the database is at %d already", version, current)
			}
			err = m.MigrateTo(ctx, version)
		}
	}
	if err != nil {
		return fmt.Errorf("persistence: apply migrations: %w", err)
	}
	return nil
}
