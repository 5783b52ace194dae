package transport_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/behaviorauth/engine/config"
)

// failedChecks counts the failed credential checks of purpose ("login" or "mpin") that the audit trail of the
// node's database holds for userID.
func failedChecks(t *testing.T, dbURL, userID, purpose string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, `select count(*) from auth_events where user_id = $1 and kind = $2 and outcome = 'failed'`,
		userID, purpose).Scan(&n); err != nil {
		t.Fatalf("count audit events: %v", err)
	}
	return n
}

// TestRESTLockouts covers the password and MPIN lockouts over HTTP, sequential and under 50 concurrent wrong
// MPINs. Rate limits are lifted so that the lockout is what answers.
func TestRESTLockouts(t *testing.T) {
	n, a := startNode(t, generous)
	lockS := int(n.Config.Auth.LockDuration.Seconds())

	checkLocked := func(t *testing.T, r reply) {
		t.Helper()
		e := r.wantError(t, http.StatusLocked, "locked", "")
		// Rounded up to whole seconds, and the lock's end is stamped a moment after the clock read here: +1.
		if e.Error.RetryAfterS < 1 || e.Error.RetryAfterS > lockS+1 {
			t.Fatalf("retry_after_s %d, want 1..%d", e.Error.RetryAfterS, lockS+1)
		}
	}

	t.Run("login locks after 10 wrong passwords", func(t *testing.T) {
		u := a.register(t)
		// Nine wrong passwords are told they are wrong; the tenth sets the lock and is answered with it.
		for i := 1; i <= 9; i++ {
			a.post("/v1/auth/login", "", map[string]string{"phone": u.Phone, "password": "wrong password " + strconv.Itoa(i)}).
				wantError(t, http.StatusUnauthorized, "unauthorized", "")
		}
		checkLocked(t, a.post("/v1/auth/login", "", map[string]string{"phone": u.Phone, "password": "wrong password 10"}))
		checkLocked(t, a.post("/v1/auth/login", "", map[string]string{"phone": u.Phone, "password": "wrong password 11"}))
		// Locked means locked: the right password is refused too.
		checkLocked(t, a.post("/v1/auth/login", "", map[string]string{"phone": u.Phone, "password": u.Password}))
	})

	t.Run("mpin locks after 5 wrong answers", func(t *testing.T) {
		u := a.register(t)
		tok := a.login(t, u)
		for i := 0; i < 4; i++ {
			a.post("/v1/auth/mpin/verify", tok.AccessToken, map[string]string{"mpin": wrongMPIN}).
				wantError(t, http.StatusUnauthorized, "unauthorized", "")
		}
		checkLocked(t, a.post("/v1/auth/mpin/verify", tok.AccessToken, map[string]string{"mpin": wrongMPIN}))
		checkLocked(t, a.post("/v1/auth/mpin/verify", tok.AccessToken, map[string]string{"mpin": u.MPIN}))
		// The password login is a separate lock.
		a.login(t, u)
	})

	t.Run("50 concurrent wrong mpins", func(t *testing.T) {
		u := a.register(t)
		tok := a.login(t, u)
		const parallel = 50
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			replies []reply
			start   = make(chan struct{})
		)
		for i := 0; i < parallel; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := a.post("/v1/auth/mpin/verify", tok.AccessToken, map[string]string{"mpin": wrongMPIN})
				mu.Lock()
				replies = append(replies, r)
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		counts := map[int]int{}
		for _, r := range replies {
			counts[r.Status]++
			switch r.Status {
			case http.StatusUnauthorized:
				r.wantError(t, http.StatusUnauthorized, "unauthorized", "")
			case http.StatusLocked:
				checkLocked(t, r)
			default:
				t.Fatalf("unexpected answer %d %s", r.Status, r.Body)
			}
		}
		// The fifth failure answers 423 (it sets the lock), so at most four are told "wrong"; every other
		// request is refused before its MPIN is hashed.
		if wrong := counts[http.StatusUnauthorized]; wrong > 4 {
			t.Fatalf("%d answers said the MPIN was wrong, want at most 4 (answers %v)", wrong, counts)
		}
		t.Logf("answers: %v", counts)
		// How many MPINs were really checked is in the audit trail: one failed `mpin` event per check.
		if checked := failedChecks(t, n.Config.Database.URL, u.ID, "mpin"); checked < 1 || checked > 5 {
			t.Fatalf("%d wrong MPINs were checked, want 1..5", checked)
		}
		r := a.post("/v1/auth/mpin/verify", tok.AccessToken, map[string]string{"mpin": u.MPIN})
		checkLocked(t, r)
		if e := r.wantError(t, http.StatusLocked, "locked", ""); e.Error.RetryAfterS <= 2 {
			t.Fatalf("retry_after_s %d: not the lock but attempts in flight", e.Error.RetryAfterS)
		}
	})
}

// TestRESTRateLimitPerAddress checks 429 with Retry-After once one client address exceeds its budget of an
// operation, while other addresses and other operations keep theirs. The node trusts X-Forwarded-For, so each
// subtest speaks from an address of its own.
func TestRESTRateLimitPerAddress(t *testing.T) {
	n, a := startNode(t, func(c *config.Config) {
		c.Auth.RatePerAddress = 3
		c.Auth.RatePerAccount = 100000
		c.HTTP.TrustProxyHeaders = true
	})
	windowS := int(n.Config.Auth.RateWindow.Seconds())
	from := func(addr string) map[string]string { return map[string]string{"X-Forwarded-For": addr} }
	login := func(addr string) reply {
		return a.send(req{Method: http.MethodPost, Path: "/v1/auth/login", Header: from(addr),
			Body: map[string]string{"phone": "+919812345678", "password": "wrong password"}})
	}

	for i := 0; i < 3; i++ {
		login("203.0.113.10").wantError(t, http.StatusUnauthorized, "unauthorized", "")
	}
	r := login("203.0.113.10")
	r.wantError(t, http.StatusTooManyRequests, "rate_limited", "")
	// The window slides (the previous one is weighed in), so the wait can reach into the next window.
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 2*windowS {
		t.Fatalf("Retry-After %q, want 1..%d", r.Header.Get("Retry-After"), 2*windowS)
	}
	// Another address has its own budget.
	login("203.0.113.11").wantError(t, http.StatusUnauthorized, "unauthorized", "")
	// Another operation from the limited address has its own budget too.
	a.send(req{Method: http.MethodPost, Path: "/v1/auth/register", Header: from("203.0.113.10"),
		Body: map[string]string{"phone": newPhone(), "password": testPassword, "mpin": testMPIN}}).
		decode(t, http.StatusCreated, nil)
	// Forged entries left of the proxy's own are ignored: the rightmost hop is the one limited.
	a.send(req{Method: http.MethodPost, Path: "/v1/auth/login", Header: from("198.51.100.77, 203.0.113.10"),
		Body: map[string]string{"phone": "+919812345678", "password": "wrong password"}}).
		wantError(t, http.StatusTooManyRequests, "rate_limited", "")
}
