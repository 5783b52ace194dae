package auth

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRegisterLoginRefreshLogout(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	c := Client{Addr: "198.51.100.7"}

	uid, err := f.svc.Register(ctx, RegisterRequest{Phone: "+919876543210", Password: testPassword,
		MPIN: testMPIN, Name: "Asha"}, c)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if got := f.count(t, `select count(*) from users where id = $1 and phone = '+919876543210' and name = 'Asha'`, uid); got != 1 {
		t.Fatalf("user row not stored as E.164")
	}

	tok, err := f.svc.Login(ctx, LoginRequest{Phone: "+919876543210", Password: testPassword, DeviceID: "pixel-7"}, c)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if tok.UserID != uid || tok.AccessToken == "" || tok.RefreshToken == "" || tok.ExpiresIn != 900 {
		t.Fatalf("Login tokens = %+v", tok)
	}
	ac, err := f.svc.VerifyAccess(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("VerifyAccess: %v", err)
	}
	if ac.UserID != uid || ac.LoginID == "" || !ac.ExpiresAt.Equal(f.clock.Now().Add(15*time.Minute)) {
		t.Fatalf("claims = %+v", ac)
	}

	f.clock.Advance(time.Minute)
	tok2, err := f.svc.Refresh(ctx, tok.RefreshToken, c)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == tok.AccessToken || tok2.UserID != uid {
		t.Fatalf("Refresh did not rotate: %+v", tok2)
	}
	ac2, err := f.svc.VerifyAccess(ctx, tok2.AccessToken)
	if err != nil || ac2.LoginID != ac.LoginID {
		t.Fatalf("VerifyAccess(refreshed) = %+v, %v; want the same login", ac2, err)
	}

	if err := f.svc.Logout(ctx, ac2, c); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	for name, tk := range map[string]string{"first access": tok.AccessToken, "second access": tok2.AccessToken} {
		if _, err := f.svc.VerifyAccess(ctx, tk); !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("%s after logout: %v, want ErrTokenRevoked", name, err)
		}
	}
	if _, err := f.svc.Refresh(ctx, tok2.RefreshToken, c); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("Refresh after logout: %v, want ErrTokenRevoked", err)
	}
	if err := f.svc.Logout(ctx, ac2, c); err != nil {
		t.Errorf("second Logout: %v, want nil", err)
	}
	for _, kind := range []string{EventRegister, EventLogin, EventRefresh, EventLogout} {
		if n := f.count(t, `select count(*) from auth_events where kind = $1 and outcome = 'ok' and user_id = $2 and client_addr = $3`,
			kind, uid, c.Addr); n < 1 {
			t.Errorf("no %s ok audit event", kind)
		}
	}
}

func TestRegisterConflict(t *testing.T) {
	f := newFixture(t, nil)
	f.register(t, 1)
	_, err := f.svc.Register(ctxT(t), RegisterRequest{Phone: phone(1), Password: "another password", MPIN: "2580"}, Client{})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate Register: %v, want ErrConflict", err)
	}
	// Concurrent registrations of one phone: the unique index lets exactly one through.
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		ok, confl int
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.svc.Register(ctxT(t), RegisterRequest{Phone: phone(2), Password: testPassword, MPIN: testMPIN}, Client{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrConflict):
				confl++
			default:
				t.Errorf("Register: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || confl != 7 {
		t.Fatalf("concurrent registrations: %d ok, %d conflicts; want 1 and 7", ok, confl)
	}
}

func TestLoginFailures(t *testing.T) {
	f := newFixture(t, nil)
	f.register(t, 1)
	ctx := ctxT(t)
	tests := []struct {
		name string
		req  LoginRequest
		want error
	}{
		{"wrong password", LoginRequest{Phone: phone(1), Password: "wrong password!"}, ErrInvalidCredentials},
		{"unknown phone", LoginRequest{Phone: phone(2), Password: testPassword}, ErrInvalidCredentials},
		{"short password is just wrong", LoginRequest{Phone: phone(1), Password: "short"}, ErrInvalidCredentials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Login(ctx, tc.req, Client{Addr: "203.0.113.5"})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Login: %v, want %v", err, tc.want)
			}
		})
	}
	var verr *ValidationError
	if _, err := f.svc.Login(ctx, LoginRequest{Phone: "12345", Password: testPassword}, Client{}); !errors.As(err, &verr) || verr.Field != "phone" {
		t.Fatalf("Login with a bad phone: %v, want a ValidationError on phone", err)
	}
	if n := f.count(t, `select count(*) from auth_events where kind = 'login' and outcome = 'failed'`); n != 3 {
		t.Fatalf("%d failed login events, want 3", n)
	}
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	f := newFixture(t, nil)
	uid := f.register(t, 1)
	ctx := ctxT(t)
	c := Client{Addr: "198.51.100.9"}
	t1 := f.login(t, 1)
	t2, err := f.svc.Refresh(ctx, t1.RefreshToken, c)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	// An attacker replays the first refresh token.
	if _, err := f.svc.Refresh(ctx, t1.RefreshToken, Client{Addr: "192.0.2.66"}); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("reused refresh token: %v, want ErrTokenRevoked", err)
	}
	// Every token of the family is dead now, the legitimate holder's included.
	if _, err := f.svc.Refresh(ctx, t2.RefreshToken, c); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("refresh with the live token after reuse: %v, want ErrTokenRevoked", err)
	}
	for _, tk := range []string{t1.AccessToken, t2.AccessToken} {
		if _, err := f.svc.VerifyAccess(ctx, tk); !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("access token after reuse: %v, want ErrTokenRevoked", err)
		}
	}
	if n := f.count(t, `select count(*) from auth_events where kind = 'reuse_detected' and user_id = $1 and client_addr = '192.0.2.66'`, uid); n != 1 {
		t.Errorf("%d reuse_detected events, want 1", n)
	}
	if n := f.count(t, `select count(*) from logins where revoked_reason = 'refresh_reuse'`); n != 1 {
		t.Errorf("login not revoked for reuse")
	}
	// Another login of the same user is untouched.
	t3 := f.login(t, 1)
	if _, err := f.svc.VerifyAccess(ctx, t3.AccessToken); err != nil {
		t.Errorf("other login after reuse: %v", err)
	}
}

func TestRefreshConcurrentUseRotatesOnce(t *testing.T) {
	f := newFixture(t, nil)
	f.register(t, 1)
	tok := f.login(t, 1)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ok, rev int
	)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.svc.Refresh(ctxT(t), tok.RefreshToken, Client{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrTokenRevoked):
				rev++
			default:
				t.Errorf("Refresh: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || rev != 5 {
		t.Fatalf("%d rotations and %d revocations; want 1 and 5", ok, rev)
	}
}

func TestRefreshExpiredAndBad(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.RefreshTTL = time.Hour })
	f.register(t, 1)
	ctx := ctxT(t)
	tok := f.login(t, 1)
	f.clock.Advance(time.Hour)
	if _, err := f.svc.Refresh(ctx, tok.RefreshToken, Client{}); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired refresh: %v, want ErrTokenExpired", err)
	}
	var verr *ValidationError
	if _, err := f.svc.Refresh(ctx, "", Client{}); !errors.As(err, &verr) || verr.Field != "refresh_token" {
		t.Errorf("empty refresh: %v, want ValidationError on refresh_token", err)
	}
	fresh, _, _ := newRefreshToken()
	for _, bad := range []string{"abc", tok.AccessToken, fresh, strings.Repeat("=", 43)} {
		if _, err := f.svc.Refresh(ctx, bad, Client{}); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("Refresh(%.10q…): %v, want ErrUnauthorized", bad, err)
		}
	}
}

func TestAccessTokenExpiry(t *testing.T) {
	f := newFixture(t, nil)
	f.register(t, 1)
	tok := f.login(t, 1)
	f.clock.Advance(15*time.Minute - time.Second)
	if _, err := f.svc.VerifyAccess(ctxT(t), tok.AccessToken); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	f.clock.Advance(time.Second)
	if _, err := f.svc.VerifyAccess(ctxT(t), tok.AccessToken); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("at expiry: %v, want ErrTokenExpired", err)
	}
}

func TestSessionStartVerifyAndRevoke(t *testing.T) {
	f := newFixture(t, nil)
	uid := f.register(t, 1)
	ctx := ctxT(t)
	c := Client{Addr: "198.51.100.3"}
	tok := f.login(t, 1)
	ac, err := f.svc.VerifyAccess(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.svc.StartSession(ctx, ac, testMPIN, c)
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	if !g.ExpiresAt.Equal(f.clock.Now().Add(12 * time.Hour)) {
		t.Errorf("session expires %v, want 12h on", g.ExpiresAt)
	}
	sc, err := f.svc.VerifySession(ctx, g.SessionToken)
	if err != nil {
		t.Fatalf("VerifySession: %v", err)
	}
	if sc.SessionID != g.SessionID || sc.UserID != uid || sc.LoginID != ac.LoginID || !sc.ExpiresAt.Equal(g.ExpiresAt) {
		t.Fatalf("session claims %+v, grant %+v", sc, g)
	}
	if n := f.count(t, `select count(*) from sessions where id = $1 and user_id = $2 and login_id = $3 and expires_at = $4`,
		g.SessionID, uid, ac.LoginID, g.ExpiresAt); n != 1 {
		t.Fatalf("sessions row missing or different")
	}
	if n := f.count(t, `select count(*) from auth_events where kind = 'session_start' and detail->>'session_id' = $1`, g.SessionID); n != 1 {
		t.Errorf("no session_start event")
	}
	if err := f.svc.CheckMPIN(ctx, uid, testMPIN, c); err != nil {
		t.Errorf("CheckMPIN: %v", err)
	}
	if err := f.svc.CheckMPIN(ctx, uid, "135792", c); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("CheckMPIN wrong: %v, want ErrInvalidCredentials", err)
	}
	if err := f.svc.CheckMPIN(ctx, "6a0c0c57-8d5e-4c43-8f50-5a8f0e1f9b00", testMPIN, c); !errors.Is(err, ErrNotFound) {
		t.Errorf("CheckMPIN unknown user: %v, want ErrNotFound", err)
	}

	// The engine blocks the session: the login goes, and with it the session and access tokens.
	if err := f.svc.RevokeLogin(ctx, ac.LoginID, "blocked"); err != nil {
		t.Fatalf("RevokeLogin: %v", err)
	}
	if err := f.svc.RevokeLogin(ctx, ac.LoginID, "blocked"); err != nil {
		t.Fatalf("RevokeLogin twice: %v", err)
	}
	if err := f.svc.RevokeLogin(ctx, "6a0c0c57-8d5e-4c43-8f50-5a8f0e1f9b00", "blocked"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RevokeLogin unknown: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.VerifySession(ctx, g.SessionToken); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("VerifySession after revoke: %v, want ErrTokenRevoked", err)
	}
	if _, err := f.svc.StartSession(ctx, ac, testMPIN, c); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("StartSession on a revoked login: %v, want ErrTokenRevoked", err)
	}
	if err := f.svc.Audit(ctx, Event{Kind: EventBlocked, UserID: uid, Outcome: OutcomeOK,
		Detail: map[string]any{"session_id": g.SessionID, "risk": 0.97}}); err != nil {
		t.Errorf("Audit: %v", err)
	}
	if err := f.svc.Audit(ctx, Event{Kind: EventSessionEnd}); err == nil {
		t.Errorf("Audit without outcome: nil error")
	}
}

func TestSessionTokenExpiry(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.SessionTTL = 30 * time.Minute })
	f.register(t, 1)
	ctx := ctxT(t)
	ac, err := f.svc.VerifyAccess(ctx, f.login(t, 1).AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.svc.StartSession(ctx, ac, testMPIN, Client{})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(30 * time.Minute)
	if _, err := f.svc.VerifySession(ctx, g.SessionToken); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired session token: %v, want ErrTokenExpired", err)
	}
}

func TestIsOperator(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		bearer string
		want   bool
	}{
		{testOperatorKey, true},
		{testOperatorKey + "x", false},
		{testOperatorKey[:len(testOperatorKey)-1], false},
		{"", false},
		{"Bearer " + testOperatorKey, false},
	} {
		if got := f.svc.IsOperator(tc.bearer); got != tc.want {
			t.Errorf("IsOperator(%q) = %v", tc.bearer, got)
		}
	}
	cfg := cheapConfig()
	cfg.OperatorKey = ""
	s2, err := New(cfg, f.store, f.svc.log)
	if err != nil {
		t.Fatal(err)
	}
	if s2.IsOperator("") || s2.IsOperator(testOperatorKey) {
		t.Errorf("IsOperator true with no operator key configured")
	}
}

// TestAuditHasNoSecrets runs every flow, failures included, and looks for any secret in the whole audit table.
func TestAuditHasNoSecrets(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MPINMaxFailures = 2; c.RatePerAccount = 30 })
	ctx := ctxT(t)
	c := Client{Addr: "198.51.100.10"}
	uid := f.register(t, 1)
	_, _ = f.svc.Register(ctx, RegisterRequest{Phone: phone(1), Password: "duplicate-password-xyz", MPIN: "906142"}, c)
	_, _ = f.svc.Login(ctx, LoginRequest{Phone: phone(1), Password: "wrong-password-abc"}, c)
	_, _ = f.svc.Login(ctx, LoginRequest{Phone: phone(9), Password: "unknown-password-def"}, c)
	tok := f.login(t, 1)
	ac, _ := f.svc.VerifyAccess(ctx, tok.AccessToken)
	g, err := f.svc.StartSession(ctx, ac, testMPIN, c)
	if err != nil {
		t.Fatal(err)
	}
	_ = f.svc.CheckMPIN(ctx, uid, "713705", c)
	_ = f.svc.CheckMPIN(ctx, uid, "713706", c) // locks
	t2, _ := f.svc.Refresh(ctx, tok.RefreshToken, c)
	_, _ = f.svc.Refresh(ctx, tok.RefreshToken, c) // reuse
	_ = f.svc.Logout(ctx, ac, c)
	for _, k := range []string{EventRegister, EventLogin, EventMPIN, EventLockout, EventRefresh, EventReuseDetected,
		EventLogout, EventSessionStart} {
		if n := f.count(t, `select count(*) from auth_events where kind = $1`, k); n == 0 {
			t.Errorf("no %s event recorded", k)
		}
	}
	rows, err := f.pool.Query(ctx, `select kind || ' ' || outcome || ' ' || client_addr || ' ' || detail::text from auth_events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	secrets := []string{testPassword, testMPIN, "duplicate-password-xyz", "906142", "wrong-password-abc",
		"unknown-password-def", "713705", "713706", tok.AccessToken, tok.RefreshToken, t2.AccessToken,
		t2.RefreshToken, g.SessionToken, testPepper, testSigningKey, testOperatorKey}
	n := 0
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		n++
		for _, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				t.Errorf("audit row %q holds a secret", line)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d audit rows", n)
	}
	// The stored hashes are PHC strings and hold neither secret.
	var pw, mp string
	if err := f.pool.QueryRow(ctx, `select password_hash, mpin_hash from users where id = $1`, uid).Scan(&pw, &mp); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pw, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(pw, testPassword) || strings.Contains(mp, testMPIN) {
		t.Errorf("stored hashes %q %q", pw, mp)
	}
	// Refresh tokens are stored as digests only.
	if n := f.count(t, `select count(*) from refresh_tokens where encode(digest, 'escape') like '%' || $1 || '%'`, tok.RefreshToken[:20]); n != 0 {
		t.Errorf("a refresh token is stored in clear")
	}
}

// TestRehashOnNewParameters: after the parameters change, a successful login or MPIN replaces the old hash.
func TestRehashOnNewParameters(t *testing.T) {
	f := newFixture(t, nil)
	uid := f.register(t, 1)
	ctx := ctxT(t)
	cfg := cheapConfig()
	cfg.Argon2MemoryKiB, cfg.Argon2Time = 128, 2
	s2, err := New(cfg, f.store, f.svc.log, WithClock(f.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Login(ctx, LoginRequest{Phone: phone(1), Password: "wrong password"}, Client{}); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	hashes := func() (string, string) {
		var pw, mp string
		if err := f.pool.QueryRow(ctx, `select password_hash, mpin_hash from users where id = $1`, uid).Scan(&pw, &mp); err != nil {
			t.Fatal(err)
		}
		return pw, mp
	}
	if pw, _ := hashes(); !strings.Contains(pw, "$m=64,t=1,") {
		t.Fatalf("a failed login rehashed: %s", pw[:30])
	}
	if _, err := s2.Login(ctx, LoginRequest{Phone: phone(1), Password: testPassword}, Client{}); err != nil {
		t.Fatal(err)
	}
	if err := s2.CheckMPIN(ctx, uid, testMPIN, Client{}); err != nil {
		t.Fatal(err)
	}
	pw, mp := hashes()
	if !strings.Contains(pw, "$m=128,t=2,") || !strings.Contains(mp, "$m=128,t=2,") {
		t.Fatalf("hashes not upgraded: %s %s", pw[:30], mp[:30])
	}
	// The old service still verifies the new hashes (parameters travel with each hash).
	if _, err := f.svc.Login(ctx, LoginRequest{Phone: phone(1), Password: testPassword}, Client{}); err != nil {
		t.Fatalf("login with the upgraded hash: %v", err)
	}
}
