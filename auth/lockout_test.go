package auth

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestMPINLockoutAtFive(t *testing.T) {
	f := newFixture(t, nil)
	uid := f.register(t, 1)
	ctx := ctxT(t)
	c := Client{Addr: "198.51.100.20"}
	for i := 1; i <= 4; i++ {
		if err := f.svc.CheckMPIN(ctx, uid, "135790", c); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong MPIN %d: %v, want ErrInvalidCredentials", i, err)
		}
	}
	var lerr *LockedError
	if err := f.svc.CheckMPIN(ctx, uid, "135790", c); !errors.As(err, &lerr) || lerr.RetryAfter != 15*time.Minute || lerr.Purpose != "mpin" {
		t.Fatalf("5th wrong MPIN: %v, want LockedError for 15m", err)
	}
	f.clock.Advance(10 * time.Minute)
	// Locked: even the right MPIN is refused, and the hash is not checked.
	before := f.svc.hash.checks.Load()
	if err := f.svc.CheckMPIN(ctx, uid, testMPIN, c); !errors.As(err, &lerr) || lerr.RetryAfter != 5*time.Minute {
		t.Fatalf("right MPIN while locked: %v, want LockedError with 5m left", err)
	}
	if f.svc.hash.checks.Load() != before {
		t.Fatalf("a locked attempt reached the hash")
	}
	f.clock.Advance(5 * time.Minute)
	if err := f.svc.CheckMPIN(ctx, uid, testMPIN, c); err != nil {
		t.Fatalf("right MPIN after the lock: %v", err)
	}
	if n := f.count(t, `select count(*) from auth_events where kind = 'lockout' and user_id = $1 and detail->>'purpose' = 'mpin'`, uid); n != 1 {
		t.Errorf("%d lockout events, want 1", n)
	}
	// The login counter is separate.
	if _, err := f.svc.Login(ctx, LoginRequest{Phone: phone(1), Password: testPassword}, c); err != nil {
		t.Errorf("login while the MPIN was locked: %v", err)
	}
}

func TestSuccessResetsCounter(t *testing.T) {
	f := newFixture(t, nil)
	uid := f.register(t, 1)
	ctx := ctxT(t)
	for round := 0; round < 3; round++ {
		for i := 0; i < 4; i++ {
			if err := f.svc.CheckMPIN(ctx, uid, "135790", Client{}); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("round %d wrong MPIN %d: %v", round, i, err)
			}
		}
		if err := f.svc.CheckMPIN(ctx, uid, testMPIN, Client{}); err != nil {
			t.Fatalf("round %d right MPIN: %v", round, err)
		}
	}
	st, err := f.store.LockoutState(ctx, uid, "mpin", f.clock.Now())
	if err != nil || st.Failures != 0 || !st.LockedUntil.IsZero() || st.InFlight != 0 {
		t.Fatalf("state %+v, %v: want reset and never locked", st, err)
	}
}

func TestLoginLockoutAtTen(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.LockDuration = time.Hour })
	f.register(t, 1)
	ctx := ctxT(t)
	bad := LoginRequest{Phone: phone(1), Password: "not the password"}
	for i := 1; i <= 9; i++ {
		if _, err := f.svc.Login(ctx, bad, Client{}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong password %d: %v", i, err)
		}
	}
	var lerr *LockedError
	if _, err := f.svc.Login(ctx, bad, Client{}); !errors.As(err, &lerr) || lerr.RetryAfter != time.Hour || lerr.Purpose != "login" {
		t.Fatalf("10th wrong password: %v, want LockedError for 1h", err)
	}
	f.clock.Advance(59*time.Minute + 30*time.Second)
	if _, err := f.svc.Login(ctx, LoginRequest{Phone: phone(1), Password: testPassword}, Client{}); !errors.As(err, &lerr) ||
		lerr.RetryAfter != 30*time.Second || Seconds(lerr.RetryAfter) != 30 {
		t.Fatalf("right password while locked: %v, want LockedError with 30s left", err)
	}
	f.clock.Advance(30 * time.Second)
	f.login(t, 1)
}

// TestConcurrentWrongMPINs fires 50 wrong MPINs at once: exactly MPINMaxFailures reach the hash, all others are
// refused as locked, and the account ends locked.
func TestConcurrentWrongMPINs(t *testing.T) {
	f := newFixture(t, nil)
	uid := f.register(t, 1)
	before := f.svc.hash.checks.Load()
	var (
		wg            sync.WaitGroup
		mu            sync.Mutex
		wrong, locked int
	)
	start := make(chan struct{})
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := f.svc.CheckMPIN(ctxT(t), uid, "135790", Client{Addr: "203.0.113.9"})
			var lerr *LockedError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrInvalidCredentials):
				wrong++
			case errors.As(err, &lerr):
				locked++
				if lerr.RetryAfter <= 0 {
					t.Errorf("attempt %d: RetryAfter %v", i, lerr.RetryAfter)
				}
			default:
				t.Errorf("attempt %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := f.svc.hash.checks.Load() - before; got != 5 {
		t.Errorf("%d hash checks, want exactly 5", got)
	}
	// Four plain failures; the fifth failure sets the lock and answers LockedError like the 45 refused.
	if wrong != 4 || locked != 46 {
		t.Errorf("%d wrong and %d locked, want 4 and 46", wrong, locked)
	}
	if n := f.count(t, `select count(*) from auth_events where kind = 'mpin' and outcome = 'failed' and user_id = $1`, uid); n != 5 {
		t.Errorf("%d failed mpin events, want 5", n)
	}
	st, err := f.store.LockoutState(ctxT(t), uid, "mpin", f.clock.Now())
	if err != nil || !st.LockedUntil.Equal(f.clock.Now().Add(15*time.Minute)) || st.InFlight != 0 {
		t.Fatalf("state %+v, %v: want locked 15m, nothing in flight", st, err)
	}
}

// TestLapsedReservation: an attempt reserved by a node that died frees its slot after 2 × AttemptTimeout.
func TestLapsedReservation(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MPINMaxFailures = 1 })
	uid := f.register(t, 1)
	ctx := ctxT(t)
	res, err := f.store.ReserveAttempt(ctx, uid, "mpin", 1, f.clock.Now(), 2*f.svc.cfg.AttemptTimeout)
	if err != nil || !res.Granted {
		t.Fatalf("reserve: %+v, %v", res, err)
	}
	var lerr *LockedError
	if err := f.svc.CheckMPIN(ctx, uid, testMPIN, Client{}); !errors.As(err, &lerr) || lerr.RetryAfter != time.Second {
		t.Fatalf("with the only slot in flight: %v, want LockedError 1s", err)
	}
	f.clock.Advance(20 * time.Second)
	if err := f.svc.CheckMPIN(ctx, uid, testMPIN, Client{}); err != nil {
		t.Fatalf("after the reservation lapsed: %v", err)
	}
}
