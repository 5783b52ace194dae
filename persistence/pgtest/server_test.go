package pgtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/behaviorauth/engine/persistence/pgtest"
)

// TestServerStopsAndStarts checks the private server's life cycle: migrated on start, unreachable while stopped,
// and back with its committed data after a restart on the same URL.
func TestServerStopsAndStarts(t *testing.T) {
	s := pgtest.NewServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	exec := func(sql string) error {
		c, err := pgx.Connect(ctx, s.URL())
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		_, err = c.Exec(ctx, sql)
		return err
	}
	if err := exec("insert into users (id, phone, password_hash, mpin_hash) values (gen_random_uuid(), '+919876543210', 'x', 'y')"); err != nil {
		t.Fatalf("the migrated schema should take a user: %v", err)
	}
	s.Stop()
	if err := exec("select 1"); err == nil {
		t.Fatal("a stopped server answered")
	}
	s.Stop() // idempotent
	s.Start()
	var n int
	c, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	defer c.Close(context.Background())
	if err := c.QueryRow(ctx, "select count(*) from users").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after a restart: %d users, %v", n, err)
	}
}
