package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// forge signs claims like the Service's access tokens, but with another method or key.
func forge(t *testing.T, method jwt.SigningMethod, key any, edit func(*tokenClaims)) string {
	t.Helper()
	c := tokenClaims{Use: useAccess, LoginID: "7b0d0f3e-2c1d-4d7e-9a51-0c5b3d2e1f00",
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: DefaultIssuer, Subject: "5a1f7c9e-3b2d-4e6f-8a1b-2c3d4e5f6a7b",
			ExpiresAt: jwt.NewNumericDate(newClock().Now().Add(time.Hour)),
		}}
	if edit != nil {
		edit(&c)
	}
	s, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerifyRefusesForgedTokens builds tokens a real login would have produced except for one thing each, and
// checks every one is refused.
func TestVerifyRefusesForgedTokens(t *testing.T) {
	f := newFixture(t, nil)
	f.register(t, 1)
	real := f.login(t, 1)
	good, err := f.svc.VerifyAccess(ctxT(t), real.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	sameClaims := func(c *tokenClaims) { c.Subject, c.LoginID = good.UserID, good.LoginID }
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key := []byte(testSigningKey)
	parts := strings.Split(real.AccessToken, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	otherSub := strings.Replace(string(payload), good.UserID, "00000000-0000-4000-8000-000000000000", 1)

	tests := []struct {
		name  string
		token string
	}{
		{"alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, sameClaims)},
		{"alg none over a real payload", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) +
			"." + parts[1] + "."},
		{"HS384 with the right key", forge(t, jwt.SigningMethodHS384, key, sameClaims)},
		{"HS512 with the right key", forge(t, jwt.SigningMethodHS512, key, sameClaims)},
		{"RS256", forge(t, jwt.SigningMethodRS256, rsaKey, sameClaims)},
		{"ES256", forge(t, jwt.SigningMethodES256, ecKey, sameClaims)},
		{"HS256 with another key", forge(t, jwt.SigningMethodHS256, []byte("another-signing-key-0123456789abcdef"), sameClaims)},
		{"another issuer", forge(t, jwt.SigningMethodHS256, key, func(c *tokenClaims) { sameClaims(c); c.Issuer = "evil" })},
		{"no expiry", forge(t, jwt.SigningMethodHS256, key, func(c *tokenClaims) { sameClaims(c); c.ExpiresAt = nil })},
		{"no use", forge(t, jwt.SigningMethodHS256, key, func(c *tokenClaims) { sameClaims(c); c.Use = "" })},
		{"payload swapped under a real signature", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(otherSub)) + "." + parts[2]},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(f.login(t, 1).AccessToken, ".")[2]},
		{"garbage", "not.a.jwt"},
		{"empty", ""},
		{"huge", strings.Repeat("a", 10000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.VerifyAccess(ctxT(t), tc.token)
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("VerifyAccess: %v, want ErrUnauthorized", err)
			}
			if _, err := f.svc.VerifySession(ctxT(t), tc.token); !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("VerifySession: %v, want ErrUnauthorized", err)
			}
		})
	}
	// The control: the same forging helper with the right method and key is accepted, so the refusals above are
	// about what each case changed.
	if _, err := f.svc.VerifyAccess(ctxT(t), forge(t, jwt.SigningMethodHS256, key, sameClaims)); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
}

func TestTokenUseIsChecked(t *testing.T) {
	f := newFixture(t, nil)
	f.register(t, 1)
	ctx := ctxT(t)
	tok := f.login(t, 1)
	ac, err := f.svc.VerifyAccess(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.svc.StartSession(ctx, ac, testMPIN, Client{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.VerifySession(ctx, tok.AccessToken); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("access token as a session token: %v, want ErrUnauthorized", err)
	}
	if _, err := f.svc.VerifyAccess(ctx, g.SessionToken); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("session token as an access token: %v, want ErrUnauthorized", err)
	}
	// A session row that names another login than its token (it cannot happen through the Service) is refused.
	other := f.login(t, 1)
	oc, err := f.svc.VerifyAccess(ctx, other.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.pool.Exec(ctx, `update sessions set login_id = $1 where id = $2`, oc.LoginID, g.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.VerifySession(ctx, g.SessionToken); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("session token over a session of another login: %v, want ErrUnauthorized", err)
	}
	if _, err := f.pool.Exec(ctx, `update sessions set login_id = $1 where id = $2`, ac.LoginID, g.SessionID); err != nil {
		t.Fatal(err)
	}
	// Expired tokens of the other use are still "unauthorized", not "expired".
	f.clock.Advance(13 * time.Hour)
	if _, err := f.svc.VerifyAccess(ctx, g.SessionToken); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("expired session token as an access token: %v, want ErrUnauthorized", err)
	}
	if _, err := f.svc.VerifySession(ctx, g.SessionToken); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("expired session token: %v, want ErrTokenExpired", err)
	}
}
