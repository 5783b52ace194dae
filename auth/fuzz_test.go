package auth

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/behaviorauth/engine/persistence"
)

// Fuzz targets for everything that parses outside input: phone numbers, MPINs, bearer tokens, refresh tokens, and
// the stored hash strings. Seed corpora live in testdata/fuzz/<name>/.

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+919876543210", "+14155552671", "+447911123456", "+", "", "+0", "+99999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizePhone(in)
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) || verr.Field != "phone" {
				t.Fatalf("NormalizePhone(%q): %v is not a ValidationError on phone", in, err)
			}
			return
		}
		if len(out) < 3 || len(out) > 16 || out[0] != '+' || strings.Trim(out[1:], "0123456789") != "" {
			t.Fatalf("NormalizePhone(%q) = %q, not E.164", in, out)
		}
		again, err := NormalizePhone(out)
		if err != nil || again != out {
			t.Fatalf("NormalizePhone not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
	})
}

func FuzzValidateMPIN(f *testing.F) {
	for _, s := range []string{"482916", "1234", "0000", "654321", "12a4", "", "١٢٣٤"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		err := ValidateMPIN(in)
		// An independent statement of the rule.
		digits := (len(in) == 4 || len(in) == 6) && strings.Trim(in, "0123456789") == ""
		trivial := false
		if digits {
			var same, up, down = true, true, true
			for i := 1; i < len(in); i++ {
				same = same && in[i] == in[0]
				up = up && in[i] == in[0]+byte(i)
				down = down && int(in[i]) == int(in[0])-i
			}
			trivial = same || up || down
		}
		if want := digits && !trivial; want != (err == nil) {
			t.Fatalf("ValidateMPIN(%q) = %v, want ok=%v", in, err, want)
		}
		if shapeErr := validateMPINShape(in); digits != (shapeErr == nil) {
			t.Fatalf("validateMPINShape(%q) = %v, want ok=%v", in, shapeErr, digits)
		}
	})
}

// fuzzService is a Service whose store is never reached by the functions fuzzed (token parsing).
func fuzzService(f testing.TB) (*Service, *clock) {
	clk := newClock()
	s, err := New(cheapConfig(), persistence.NewAccounts(nil), slog.New(slog.NewTextHandler(io.Discard, nil)), WithClock(clk.Now))
	if err != nil {
		f.Fatal(err)
	}
	return s, clk
}

func FuzzParseToken(f *testing.F) {
	s, clk := fuzzService(f)
	uid, lid, sid := uuid.NewString(), uuid.NewString(), uuid.NewString()
	access, err := s.sign(useAccess, uid, lid, "", clk.Now().Add(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	session, err := s.sign(useSession, uid, lid, sid, clk.Now().Add(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	for _, tok := range []string{access, session, "", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", access[:len(access)-2]} {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		for _, use := range []string{useAccess, useSession} {
			c, err := s.parse(tok, use)
			if err != nil {
				if !errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrTokenExpired) {
					t.Fatalf("parse(%q, %s): %v is neither unauthorized nor expired", tok, use, err)
				}
				continue
			}
			// Only tokens signed with our key parse; they must be complete.
			if c.Use != use || uuid.Validate(c.Subject) != nil || uuid.Validate(c.LoginID) != nil || c.ExpiresAt == nil {
				t.Fatalf("parse(%q, %s) accepted incomplete claims %+v", tok, use, c)
			}
			if use == useSession && uuid.Validate(c.SessionID) != nil {
				t.Fatalf("parse(%q) accepted a session token without a session id", tok)
			}
		}
	})
}

func FuzzRefreshDigest(f *testing.F) {
	tok, _, err := newRefreshToken()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{tok, "", strings.Repeat("A", 43), strings.Repeat("A", 42) + "=", tok + "A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, err := refreshDigest(in)
		if err != nil {
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("refreshDigest(%q): %v is not ErrUnauthorized", in, err)
			}
			return
		}
		if len(in) != 43 || len(d) != 32 {
			t.Fatalf("refreshDigest(%q) accepted: %d-byte digest", in, len(d))
		}
	})
}

func FuzzDecodePHC(f *testing.F) {
	for _, s := range []string{
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=7168,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=64,t=1,p=1$$", "", "$$$$$",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, salt, key, err := decodePHC(in)
		if err != nil {
			if !errors.Is(err, errBadHash) {
				t.Fatalf("decodePHC(%q): %v is not errBadHash", in, err)
			}
			return
		}
		// What decodes is canonical: encoding it again gives the input back.
		if out := encodePHC(p, salt, key); out != in {
			t.Fatalf("decodePHC(%q) re-encodes as %q", in, out)
		}
	})
}
