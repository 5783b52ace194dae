package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

const (
	saltLen = 16
	keyLen  = 32
)

// argonParams are argon2id's cost parameters.
type argonParams struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// errBadHash means a stored hash string is not a PHC argon2id string this package can check.
var errBadHash = errors.New("auth: malformed password hash")

// hasher hashes and checks secrets (passwords, MPINs) with argon2id over an HMAC of the secret keyed with the
// pepper. At most cap(sem) hashes run at once.
type hasher struct {
	params argonParams
	pepper []byte
	sem    chan struct{}
	// checks counts Verify calls that reached argon2: the concurrency tests assert on it.
	checks atomic.Int64
}

func newHasher(p argonParams, pepper []byte, concurrency int) *hasher {
	return &hasher{params: p, pepper: pepper, sem: make(chan struct{}, concurrency)}
}

// acquire waits for a hashing slot or for ctx to end.
func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: waiting for the hasher: %w", context.Cause(ctx))
	}
}

func (h *hasher) release() { <-h.sem }

// peppered is the argon2 input: HMAC-SHA256(pepper, secret). A fixed 32-byte input whatever the secret's length,
// and useless to an attacker who has the database but not the pepper.
func (h *hasher) peppered(secret string) []byte {
	m := hmac.New(sha256.New, h.pepper)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// Hash returns the PHC string of secret under the current parameters and a fresh random salt.
func (h *hasher) Hash(ctx context.Context, secret string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey(h.peppered(secret), salt, h.params.Time, h.params.MemoryKiB, h.params.Threads, keyLen)
	h.release()
	return encodePHC(h.params, salt, key), nil
}

// Verify reports whether secret matches the PHC string encoded, and whether encoded was made with other
// parameters than the current ones (the caller may then store a new hash). The comparison is constant-time.
func (h *hasher) Verify(ctx context.Context, encoded, secret string) (ok, stale bool, err error) {
	p, salt, want, err := decodePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	h.checks.Add(1)
	got := argon2.IDKey(h.peppered(secret), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	h.release()
	ok = subtle.ConstantTimeCompare(got, want) == 1
	stale = p != h.params || len(salt) != saltLen || len(want) != keyLen
	return ok, stale, nil
}

// encodePHC writes $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>, base64 without padding.
func encodePHC(p argonParams, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// decodePHC parses what encodePHC writes. It bounds every parameter (a corrupt row must not make the node
// allocate gigabytes or spin for minutes) and never panics.
func decodePHC(s string) (argonParams, []byte, []byte, error) {
	var p argonParams
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: version %q", errBadHash, parts[2])
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return p, nil, nil, errBadHash
	}
	var seen [3]bool
	for _, f := range fields {
		name, val, found := strings.Cut(f, "=")
		if !found || val == "" || (len(val) > 1 && val[0] == '0') {
			return p, nil, nil, errBadHash
		}
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return p, nil, nil, errBadHash
		}
		switch {
		case name == "m" && !seen[0] && n <= maxArgon2MiB:
			seen[0], p.MemoryKiB = true, uint32(n)
		case name == "t" && !seen[1] && n >= 1 && n <= maxArgon2Time:
			seen[1], p.Time = true, uint32(n)
		case name == "p" && !seen[2] && n >= 1 && n <= maxArgon2Lanes:
			seen[2], p.Threads = true, uint8(n)
		default:
			return p, nil, nil, errBadHash
		}
	}
	if !seen[0] || !seen[1] || !seen[2] || p.MemoryKiB < 8*uint32(p.Threads) {
		return p, nil, nil, errBadHash
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return p, nil, nil, errBadHash
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}
