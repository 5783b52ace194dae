package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Token uses, in the `use` claim: a token of one use is refused where the other is expected.
const (
	useAccess  = "access"
	useSession = "session"
)

// maxTokenLen bounds the token string handed to the JWT parser; ours are a few hundred bytes.
const maxTokenLen = 4096

// refreshTokenBytes is the entropy of a refresh token.
const refreshTokenBytes = 32

// AccessClaims is what a valid access token proves.
type AccessClaims struct {
	UserID    string
	LoginID   string
	ExpiresAt time.Time
}

// SessionClaims is what a valid session token proves.
type SessionClaims struct {
	SessionID string
	UserID    string
	LoginID   string
	ExpiresAt time.Time
}

// tokenClaims is the JWT payload of access and session tokens.
type tokenClaims struct {
	// Use is "access" or "session".
	Use string `json:"use"`
	// LoginID is the login (token family) the token belongs to; revoking it stops the token.
	LoginID string `json:"lid"`
	// SessionID is set on session tokens only.
	SessionID string `json:"sid,omitempty"`
	jwt.RegisteredClaims
}

// sign issues a token of use for userID and loginID (and sessionID) that expires at exp.
func (s *Service) sign(use, userID, loginID, sessionID string, exp time.Time) (string, error) {
	now := s.now()
	c := tokenClaims{
		Use:       use,
		LoginID:   loginID,
		SessionID: sessionID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.cfg.Issuer,
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        uuid.NewString(),
		},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.signingKey)
	if err != nil {
		return "", fmt.Errorf("auth: sign %s token: %w", use, err)
	}
	return tok, nil
}

// parse checks a token's signature (HS256 only: `none` and every other algorithm are refused), issuer, expiry and
// use, without touching the database. Errors: ErrTokenExpired for a well-signed expired token of the right use,
// ErrUnauthorized for anything else.
func (s *Service) parse(token, use string) (tokenClaims, error) {
	var c tokenClaims
	if token == "" || len(token) > maxTokenLen {
		return c, ErrUnauthorized
	}
	_, err := s.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.signingKey, nil })
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired) && c.Use == use:
		// The signature was checked before the claims: only a token we issued gets here.
		return c, ErrTokenExpired
	default:
		return c, fmt.Errorf("%w: %s token: %v", ErrUnauthorized, use, err)
	}
	if c.Use != use {
		return c, fmt.Errorf("%w: %q token where %s expected", ErrUnauthorized, c.Use, use)
	}
	if uuid.Validate(c.Subject) != nil || uuid.Validate(c.LoginID) != nil {
		return c, fmt.Errorf("%w: %s token: bad subject or login", ErrUnauthorized, use)
	}
	if use == useSession && uuid.Validate(c.SessionID) != nil {
		return c, fmt.Errorf("%w: session token: bad session id", ErrUnauthorized)
	}
	if c.ExpiresAt == nil {
		return c, fmt.Errorf("%w: %s token: no expiry", ErrUnauthorized, use)
	}
	return c, nil
}

func newParser(issuer string, now func() time.Time) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	)
}

// newRefreshToken returns a fresh refresh token (32 random bytes, base64url without padding) and its SHA-256
// digest, the only form stored.
func newRefreshToken() (token string, digest []byte, err error) {
	b := make([]byte, refreshTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("auth: refresh token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	d := sha256.Sum256([]byte(token))
	return token, d[:], nil
}

// refreshDigest checks a refresh token's shape and returns its digest. Anything that cannot be one of ours is
// ErrUnauthorized, without a database round trip.
func refreshDigest(token string) ([]byte, error) {
	if len(token) != base64.RawURLEncoding.EncodedLen(refreshTokenBytes) {
		return nil, fmt.Errorf("%w: refresh token: bad length", ErrUnauthorized)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) != refreshTokenBytes {
		return nil, fmt.Errorf("%w: refresh token: not base64url", ErrUnauthorized)
	}
	d := sha256.Sum256([]byte(token))
	return d[:], nil
}
