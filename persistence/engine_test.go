package persistence_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/behaviorauth/engine/persistence/pgtest"
)

// engDB is a fresh migrated database with one user, one login and the sessions a test asks for, inserted with
// plain SQL so that these tests do not depend on the accounts store.
type engDB struct {
	pool    *pgxpool.Pool
	userID  string
	loginID string
}

func engNewDB(tb testing.TB) *engDB {
	tb.Helper()
	db := &engDB{pool: pgtest.Pool(tb)}
	db.userID = db.addUser(tb)
	db.loginID = engRandomUUID()
	db.exec(tb, `insert into logins (id, user_id) values ($1, $2)`, db.loginID, db.userID)
	return db
}

func (db *engDB) exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.pool.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// addUser inserts a user and returns its id.
func (db *engDB) addUser(tb testing.TB) string {
	tb.Helper()
	id := engRandomUUID()
	db.exec(tb, `insert into users (id, phone, password_hash, mpin_hash) values ($1, $2, 'x', 'x')`,
		id, "+9198"+id[:8])
	return id
}

// addSession inserts a session of the fixture's user that expires after ttl (negative: already expired) and
// returns its id.
func (db *engDB) addSession(tb testing.TB, ttl time.Duration) string {
	tb.Helper()
	return db.addSessionAt(tb, time.Now(), ttl)
}

func (db *engDB) addSessionAt(tb testing.TB, created time.Time, ttl time.Duration) string {
	tb.Helper()
	id := engRandomUUID()
	db.exec(tb, `insert into sessions (id, user_id, login_id, created_at, expires_at) values ($1, $2, $3, $4, $5)`,
		id, db.userID, db.loginID, created, created.Add(ttl))
	return id
}

func (db *engDB) count(tb testing.TB, sql string, args ...any) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	if err := db.pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return n
}

func engRandomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func engCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func engPtr[T any](v T) *T { return &v }
