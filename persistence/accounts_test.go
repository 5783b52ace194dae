package persistence_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/behaviorauth/engine/persistence"
	"github.com/behaviorauth/engine/persistence/pgtest"
)

// acctT0 is the tests' clock origin, at the start of a minute.
var acctT0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func acctCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func acctDigest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// acctUser creates a user with phone and returns it.
func acctUser(tb testing.TB, a *persistence.Accounts, phone string) persistence.User {
	tb.Helper()
	u := persistence.User{ID: uuid.NewString(), Phone: phone, PasswordHash: "p", MPINHash: "m", CreatedAt: acctT0}
	if err := a.CreateUser(acctCtx(tb), u); err != nil {
		tb.Fatalf("CreateUser: %v", err)
	}
	return u
}

// acctLogin opens a login of u whose first refresh token is tok.
func acctLogin(tb testing.TB, a *persistence.Accounts, u persistence.User, tok string) string {
	tb.Helper()
	id := uuid.NewString()
	err := a.CreateLogin(acctCtx(tb), persistence.NewLogin{ID: id, UserID: u.ID, DeviceID: "d", ClientAddr: "a",
		CreatedAt: acctT0, RefreshDigest: acctDigest(tok), RefreshExpires: acctT0.Add(time.Hour)})
	if err != nil {
		tb.Fatalf("CreateLogin: %v", err)
	}
	return id
}

func TestAccountsUsers(t *testing.T) {
	a := persistence.NewAccounts(pgtest.Pool(t))
	ctx := acctCtx(t)
	u := acctUser(t, a, "+919876543210")
	err := a.CreateUser(ctx, persistence.User{ID: uuid.NewString(), Phone: u.Phone, PasswordHash: "x", MPINHash: "y", CreatedAt: acctT0})
	if !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("duplicate phone: %v, want ErrConflict", err)
	}
	got, err := a.UserByPhone(ctx, u.Phone)
	if err != nil || got.ID != u.ID || !got.CreatedAt.Equal(acctT0) {
		t.Fatalf("UserByPhone = %+v, %v", got, err)
	}
	if _, err := a.UserByPhone(ctx, "+14155552671"); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("unknown phone: %v", err)
	}
	for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
		if _, err := a.UserByID(ctx, id); !errors.Is(err, persistence.ErrNotFound) {
			t.Errorf("UserByID(%q): %v, want ErrNotFound", id, err)
		}
	}
	if err := a.SetPasswordHash(ctx, u.ID, "p2"); err != nil {
		t.Fatal(err)
	}
	if err := a.SetMPINHash(ctx, u.ID, "m2"); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.UserByID(ctx, u.ID); got.PasswordHash != "p2" || got.MPINHash != "m2" {
		t.Errorf("hashes not replaced: %+v", got)
	}
	if err := a.SetPasswordHash(ctx, uuid.NewString(), "p"); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("SetPasswordHash unknown: %v", err)
	}
}

func TestAccountsRotateRefresh(t *testing.T) {
	a := persistence.NewAccounts(pgtest.Pool(t))
	ctx := acctCtx(t)
	u := acctUser(t, a, "+919876543210")
	loginID := acctLogin(t, a, u, "t1")
	exp := acctT0.Add(time.Hour)

	tests := []struct {
		name      string
		old, next string
		now       time.Time
		want      persistence.RotationOutcome
	}{
		{"live token rotates", "t1", "t2", acctT0, persistence.Rotated},
		{"its successor rotates", "t2", "t3", acctT0.Add(time.Minute), persistence.Rotated},
		{"successor expired", "t3", "t4", exp.Add(time.Minute), persistence.Expired},
		{"spent token is reuse", "t1", "t5", acctT0.Add(2 * time.Minute), persistence.Reused},
		{"after reuse the family is revoked", "t3", "t6", acctT0.Add(3 * time.Minute), persistence.Revoked},
	}
	for _, tc := range tests {
		r, err := a.RotateRefresh(ctx, acctDigest(tc.old), acctDigest(tc.next), tc.now, tc.now.Add(time.Hour))
		if err != nil || r.Outcome != tc.want || r.LoginID != loginID || r.UserID != u.ID {
			t.Fatalf("%s: %+v, %v; want %s", tc.name, r, err, tc.want)
		}
	}
	st, err := a.Login(ctx, loginID)
	if err != nil || !st.Revoked {
		t.Fatalf("login after reuse: %+v, %v", st, err)
	}
	if _, err := a.RotateRefresh(ctx, acctDigest("unknown"), acctDigest("x"), acctT0, exp); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("unknown token: %v", err)
	}
	uid, lid, err := a.RefreshOwner(ctx, acctDigest("t1"))
	if err != nil || uid != u.ID || lid != loginID {
		t.Errorf("RefreshOwner = %s %s %v", uid, lid, err)
	}
}

func TestAccountsRevokeAndSessions(t *testing.T) {
	pool := pgtest.Pool(t)
	a := persistence.NewAccounts(pool)
	ctx := acctCtx(t)
	u := acctUser(t, a, "+919876543210")
	other := acctUser(t, a, "+919876543211")
	loginID := acctLogin(t, a, u, "t1")

	s := persistence.AuthSession{ID: uuid.NewString(), UserID: u.ID, LoginID: loginID, CreatedAt: acctT0, ExpiresAt: acctT0.Add(time.Hour)}
	if err := a.CreateSession(ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	bad := s
	bad.ID, bad.UserID = uuid.NewString(), other.ID
	if err := a.CreateSession(ctx, bad); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("session on another user's login: %v, want ErrNotFound", err)
	}
	st, err := a.Session(ctx, s.ID)
	if err != nil || st.UserID != u.ID || st.LoginID != loginID || st.LoginRevoked || st.Ended {
		t.Fatalf("Session = %+v, %v", st, err)
	}

	did, err := a.RevokeLogin(ctx, loginID, "logout", acctT0)
	if err != nil || !did {
		t.Fatalf("RevokeLogin: %v, %v", did, err)
	}
	did, err = a.RevokeLogin(ctx, loginID, "blocked", acctT0.Add(time.Minute))
	if err != nil || did {
		t.Fatalf("second RevokeLogin: %v, %v; want no change", did, err)
	}
	var reason string
	if err := pool.QueryRow(ctx, `select revoked_reason from logins where id = $1`, loginID).Scan(&reason); err != nil || reason != "logout" {
		t.Errorf("revoked_reason %q, %v; want the first reason", reason, err)
	}
	if _, err := a.RevokeLogin(ctx, uuid.NewString(), "x", acctT0); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("RevokeLogin unknown: %v", err)
	}
	if st, _ := a.Session(ctx, s.ID); !st.LoginRevoked {
		t.Errorf("session's login not seen revoked")
	}
	s2 := s
	s2.ID = uuid.NewString()
	if err := a.CreateSession(ctx, s2); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("session on a revoked login: %v, want ErrNotFound", err)
	}
	for _, id := range []string{"x", uuid.NewString()} {
		if _, err := a.Login(ctx, id); !errors.Is(err, persistence.ErrNotFound) {
			t.Errorf("Login(%q): %v", id, err)
		}
		if _, err := a.Session(ctx, id); !errors.Is(err, persistence.ErrNotFound) {
			t.Errorf("Session(%q): %v", id, err)
		}
	}
}

// TestAccountsReserveExact: 40 concurrent reservations against a maximum of 5 grant exactly 5; settling them
// as failures locks; a success resets; a lapsed reservation frees its slot.
func TestAccountsReserveExact(t *testing.T) {
	a := persistence.NewAccounts(pgtest.Pool(t))
	ctx := acctCtx(t)
	u := acctUser(t, a, "+919876543210")
	const max = 5
	ttl := 20 * time.Second

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		granted int
	)
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := a.ReserveAttempt(acctCtx(t), u.ID, "mpin", max, acctT0, ttl)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if r.Granted {
				granted++
			} else if r.InFlight != max || !r.LockedUntil.IsZero() {
				t.Errorf("refusal %+v, want %d in flight and no lock", r, max)
			}
		}()
	}
	wg.Wait()
	if granted != max {
		t.Fatalf("%d reservations granted, want %d", granted, max)
	}
	lockUntil := acctT0.Add(15 * time.Minute)
	for i := 1; i <= max; i++ {
		locked, err := a.SettleAttempt(ctx, u.ID, "mpin", false, max, acctT0, lockUntil)
		if err != nil {
			t.Fatal(err)
		}
		if (i == max) != !locked.IsZero() {
			t.Fatalf("failure %d: locked until %v", i, locked)
		}
	}
	st, err := a.LockoutState(ctx, u.ID, "mpin", acctT0)
	if err != nil || st.Failures != 0 || !st.LockedUntil.Equal(lockUntil) || st.InFlight != 0 {
		t.Fatalf("after the lock: %+v, %v", st, err)
	}
	r, err := a.ReserveAttempt(ctx, u.ID, "mpin", max, acctT0.Add(time.Minute), ttl)
	if err != nil || r.Granted || !r.LockedUntil.Equal(lockUntil) {
		t.Fatalf("while locked: %+v, %v", r, err)
	}

	// After the lock: two failures, then a success resets the count.
	now := lockUntil
	for range 2 {
		if r, err := a.ReserveAttempt(ctx, u.ID, "mpin", max, now, ttl); err != nil || !r.Granted {
			t.Fatalf("reserve: %+v, %v", r, err)
		}
		if _, err := a.SettleAttempt(ctx, u.ID, "mpin", false, max, now, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := a.ReserveAttempt(ctx, u.ID, "mpin", max, now, ttl); err != nil || !r.Granted {
		t.Fatalf("reserve: %+v, %v", r, err)
	}
	if _, err := a.SettleAttempt(ctx, u.ID, "mpin", true, max, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if st, _ := a.LockoutState(ctx, u.ID, "mpin", now); st.Failures != 0 || st.InFlight != 0 {
		t.Fatalf("after success: %+v", st)
	}

	// Reservations that are never settled lapse after ttl; a release frees one at once.
	for range max {
		if r, _ := a.ReserveAttempt(ctx, u.ID, "mpin", max, now, ttl); !r.Granted {
			t.Fatal("reserve refused")
		}
	}
	if r, _ := a.ReserveAttempt(ctx, u.ID, "mpin", max, now, ttl); r.Granted {
		t.Fatal("reserve over the max granted")
	}
	if err := a.ReleaseAttempt(ctx, u.ID, "mpin", now); err != nil {
		t.Fatal(err)
	}
	if r, _ := a.ReserveAttempt(ctx, u.ID, "mpin", max, now, ttl); !r.Granted {
		t.Fatal("reserve after a release refused")
	}
	if st, _ := a.LockoutState(ctx, u.ID, "mpin", now.Add(ttl)); st.InFlight != 0 {
		t.Fatalf("reservations did not lapse: %+v", st)
	}
	if r, _ := a.ReserveAttempt(ctx, u.ID, "mpin", max, now.Add(ttl), ttl); !r.Granted {
		t.Fatal("reserve after the lapse refused")
	}
	// The other purpose has its own counter.
	if r, _ := a.ReserveAttempt(ctx, u.ID, "login", 1, now, ttl); !r.Granted {
		t.Fatal("login reserve refused")
	}
}

func TestAccountsHitRate(t *testing.T) {
	a := persistence.NewAccounts(pgtest.Pool(t))
	ctx := acctCtx(t)
	prev, cur := acctT0.Add(-time.Minute), acctT0
	for range 3 {
		if _, err := a.HitRate(ctx, []string{"k|a"}, prev, prev.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Both orders, so that a lock-ordering bug would deadlock.
			hits, err := a.HitRate(acctCtx(t), []string{"k|b", "k|a"}, cur, prev)
			if err != nil {
				t.Error(err)
				return
			}
			if hits[0].Key != "k|b" || hits[1].Key != "k|a" || hits[1].Previous != 3 || hits[0].Previous != 0 {
				t.Errorf("hits %+v", hits)
			}
			if _, err := a.HitRate(acctCtx(t), []string{"k|a", "k|b"}, cur, prev); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	hits, err := a.HitRate(ctx, []string{"k|a", "k|a"}, cur, prev)
	if err != nil || len(hits) != 2 || hits[0].Current != 41 || hits[1].Current != 41 {
		t.Fatalf("after 40 hits, one more (the key twice counts once): %+v, %v", hits, err)
	}
	n, err := a.DeleteRateWindows(ctx, cur)
	if err != nil || n != 1 {
		t.Fatalf("DeleteRateWindows = %d, %v; want the one old window", n, err)
	}
}

func TestAccountsAuthEvents(t *testing.T) {
	a := persistence.NewAccounts(pgtest.Pool(t))
	ctx := acctCtx(t)
	u := acctUser(t, a, "+919876543210")
	err := a.InsertAuthEvents(ctx,
		persistence.AuthEvent{At: acctT0, UserID: u.ID, Kind: "login", Outcome: "ok", ClientAddr: "198.51.100.1",
			Detail: map[string]any{"login_id": "l1"}},
		persistence.AuthEvent{At: acctT0.Add(time.Second), Kind: "login", Outcome: "failed", Detail: map[string]any{"n": 2}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.InsertAuthEvents(ctx, persistence.AuthEvent{At: acctT0, UserID: "bad", Kind: "x", Outcome: "y"}); err == nil {
		t.Errorf("an event with a malformed user id was stored")
	}
	all, err := a.AuthEvents(ctx, "", 10)
	if err != nil || len(all) != 2 {
		t.Fatalf("AuthEvents = %+v, %v", all, err)
	}
	if all[0].UserID != u.ID || all[0].Detail["login_id"] != "l1" || all[1].UserID != "" || all[1].Detail["n"] != 2.0 {
		t.Errorf("events %+v", all)
	}
	mine, err := a.AuthEvents(ctx, u.ID, 10)
	if err != nil || len(mine) != 1 || !mine[0].At.Equal(acctT0) || mine[0].ClientAddr != "198.51.100.1" {
		t.Errorf("AuthEvents(user) = %+v, %v", mine, err)
	}
}
