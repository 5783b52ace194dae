package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func testHasher(p argonParams, pepper string) *hasher {
	return newHasher(p, []byte(pepper), 2)
}

var cheap = argonParams{Time: 1, MemoryKiB: 64, Threads: 1}

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := testHasher(cheap, testPepper)
	enc, err := h.Hash(ctx, "s3cret-password")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Count(enc, "$") != 5 {
		t.Fatalf("encoding %q", enc)
	}
	enc2, _ := h.Hash(ctx, "s3cret-password")
	if enc == enc2 {
		t.Fatalf("two hashes of one secret are equal: the salt is not random")
	}
	tests := []struct {
		name          string
		h             *hasher
		secret        string
		ok, wantStale bool
	}{
		{"right secret", h, "s3cret-password", true, false},
		{"wrong secret", h, "s3cret-passwore", false, false},
		{"empty secret", h, "", false, false},
		{"other pepper", testHasher(cheap, "another-pepper-value"), "s3cret-password", false, false},
		{"new parameters still verify, flagged stale", testHasher(argonParams{Time: 2, MemoryKiB: 128, Threads: 2}, testPepper),
			"s3cret-password", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, stale, err := tc.h.Verify(ctx, enc, tc.secret)
			if err != nil || ok != tc.ok || stale != tc.wantStale {
				t.Fatalf("Verify = %v, %v, %v; want %v, %v", ok, stale, err, tc.ok, tc.wantStale)
			}
		})
	}
}

func TestDecodePHC(t *testing.T) {
	good := "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43)
	if _, _, _, err := decodePHC(good); err != nil {
		t.Fatalf("decodePHC(good): %v", err)
	}
	bad := []string{
		"",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=4,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=64,t=1000,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=64,m=64,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=064,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=64,t=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=64,t=1,p=1$$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA==$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAA",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43) + "$",
		"$argon2id$v=19$m=-64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
	}
	for _, s := range bad {
		if _, _, _, err := decodePHC(s); !errors.Is(err, errBadHash) {
			t.Errorf("decodePHC(%q): %v, want errBadHash", s, err)
		}
	}
}

// TestHashWaitHonoursContext: with every slot taken, a hash waits, and gives up when its context ends.
func TestHashWaitHonoursContext(t *testing.T) {
	h := newHasher(cheap, []byte(testPepper), 1)
	if err := h.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "secret"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Hash with the hasher full: %v, want DeadlineExceeded", err)
	}
	if _, _, err := h.Verify(ctx, "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$"+strings.Repeat("A", 43), "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Verify with the hasher full: %v, want DeadlineExceeded", err)
	}
	if h.checks.Load() != 0 {
		t.Fatalf("a check that never ran was counted")
	}
	h.release()
	if _, err := h.Hash(context.Background(), "secret"); err != nil {
		t.Fatalf("Hash after release: %v", err)
	}
}
