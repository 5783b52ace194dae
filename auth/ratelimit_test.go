package auth

import (
	"errors"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	const w = time.Minute
	tests := []struct {
		name             string
		prev, cur, limit int
		elapsed, want    time.Duration
	}{
		// 31 hits still weigh fully at the next window's start: 50s to its start, then 60·(1−29/31)s.
		{"window full", 0, 31, 30, 10 * time.Second, 54 * time.Second},
		// 30·(1−22/60) + 11 = 30.
		{"previous window weighs", 30, 10, 30, 0, 22 * time.Second},
		{"wait into the next window", 60, 30, 30, 30 * time.Second, 32 * time.Second},
		{"just over at the window's end", 0, 11, 10, 59 * time.Second, 12 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := retryAfter(tc.prev, tc.cur, tc.limit, tc.elapsed, w)
			if got != tc.want {
				t.Fatalf("retryAfter = %v, want %v", got, tc.want)
			}
			// One more request at now + got is allowed; one second earlier it is not.
			at := func(d time.Duration) float64 {
				e := tc.elapsed + d
				if e < w {
					return estimate(tc.prev, tc.cur+1, e, w)
				}
				return estimate(tc.cur, 1, e-w, w)
			}
			if at(got) > float64(tc.limit) {
				t.Errorf("still over the limit after %v: %.2f", got, at(got))
			}
			if got > time.Second && at(got-time.Second) <= float64(tc.limit) {
				t.Errorf("allowed a second before %v already", got)
			}
		})
	}
}

func TestRateLimitPerAddressAcrossAccounts(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.RatePerAddress = 30; c.RatePerAccount = 10 })
	ctx := ctxT(t)
	stuffer := Client{Addr: "192.0.2.200"}
	// Credential stuffing: one address, a different account each time.
	for i := 0; i < 30; i++ {
		_, err := f.svc.Login(ctx, LoginRequest{Phone: phone(i), Password: "guess-password"}, stuffer)
		if !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	f.clock.Advance(10 * time.Second)
	var rl *RateLimitedError
	_, err := f.svc.Login(ctx, LoginRequest{Phone: phone(99), Password: "guess-password"}, stuffer)
	if !errors.As(err, &rl) || rl.Scope != "address" || rl.RetryAfter != 54*time.Second {
		t.Fatalf("31st login from one address: %v, want RateLimitedError per address, retry 54s", err)
	}
	// Another address is not affected, and neither is register from the same address (its own window).
	if _, err := f.svc.Login(ctx, LoginRequest{Phone: phone(99), Password: "guess-password"}, Client{Addr: "192.0.2.201"}); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("login from another address: %v", err)
	}
	if _, err := f.svc.Register(ctx, RegisterRequest{Phone: phone(500), Password: testPassword, MPIN: testMPIN}, stuffer); err != nil {
		t.Fatalf("register from the limited address: %v", err)
	}
	// The rate_limited event is written once for the burst, not per refusal.
	for range 5 {
		_, _ = f.svc.Login(ctx, LoginRequest{Phone: phone(98), Password: "guess-password"}, stuffer)
	}
	if n := f.count(t, `select count(*) from auth_events where outcome = 'rate_limited' and client_addr = $1`, stuffer.Addr); n != 1 {
		t.Errorf("%d rate_limited events, want 1", n)
	}
	// Two windows later the address may try again.
	f.clock.Advance(2 * time.Minute)
	if _, err := f.svc.Login(ctx, LoginRequest{Phone: phone(97), Password: "guess-password"}, stuffer); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("login two windows later: %v", err)
	}
	// ... and the windows that no longer count were cleaned up on the way.
	if n := f.count(t, `select count(*) from rate_windows where window_start < $1`, f.clock.Now().Truncate(time.Minute).Add(-time.Minute)); n != 0 {
		t.Errorf("%d stale rate windows left", n)
	}
}

func TestRateLimitPerAccountAcrossAddresses(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.RatePerAddress = 30; c.RatePerAccount = 10 })
	uid := f.register(t, 1)
	ctx := ctxT(t)
	for i := 0; i < 10; i++ {
		addr := Client{Addr: "198.18.0." + string(rune('a'+i))}
		if err := f.svc.CheckMPIN(ctx, uid, testMPIN, addr); err != nil {
			t.Fatalf("mpin %d: %v", i, err)
		}
	}
	var rl *RateLimitedError
	if err := f.svc.CheckMPIN(ctx, uid, testMPIN, Client{Addr: "198.18.1.1"}); !errors.As(err, &rl) || rl.Scope != "account" {
		t.Fatalf("11th mpin on one account: %v, want RateLimitedError per account", err)
	}
	// The per-account window of login is another one.
	f.login(t, 1)
	// Early in the next window the previous one still weighs (11 hits × 55/60 + 1 > 10): still limited until
	// RetryAfter, then allowed.
	f.clock.Advance(time.Minute + 5*time.Second)
	if err := f.svc.CheckMPIN(ctx, uid, testMPIN, Client{Addr: "198.18.1.1"}); !errors.As(err, &rl) {
		t.Fatalf("5s into the next window: %v, want still limited (sliding window)", err)
	}
	f.clock.Advance(rl.RetryAfter)
	if err := f.svc.CheckMPIN(ctx, uid, testMPIN, Client{Addr: "198.18.1.1"}); err != nil {
		t.Fatalf("after RetryAfter: %v", err)
	}
}
