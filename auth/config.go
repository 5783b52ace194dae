package auth

import (
	"fmt"
	"runtime"
	"time"
)

// Config configures the Service. A zero field takes the default stated in its comment (WithDefaults); the three
// secrets have no default. Field names match config.Auth of cluster.yaml so the node maps one onto the other.
//
// Argon2id defaults: t=1 pass over m=2 MiB, p=1 lane, 16-byte salt, 32-byte key. The model below first gave
// 7 MiB; measured end to end over HTTP on the 2-core reference box (transport's BenchmarkLoginAndMPINVerify,
// which also counts the HTTP stack, the accounts SQL and the client), 7 MiB gave p99 307 ms and 2 MiB 148–192 ms,
// so the default is 2 MiB (config.Auth carries the same). How the model goes: login +
// StartSession is two hashes, and hashing is bounded to HashConcurrency (= 2 cores) at a time, so 20 clients
// running the pair back to back queue for the cores and wait on average 20 × (CPU per pair) / 2. CPU per pair
// measured ≈ 2.8 ms without hashing (Go and Postgres) plus ≈ 0.71 ms per MiB per hash, and the measured spread
// puts p99 near 1.55 × the mean: p99 < 200 ms at 20 concurrent clients on 2 idle cores allows at most about 7 MiB
// × 1 pass. OWASP's cheapest argon2id profiles (19 MiB × 2, 46 MiB × 1, 7 MiB × 5) cost 5 to 7 times as much and
// would put that p99 near 0.9 s. The trade is defensible because the hash is the last of three barriers: (1) the
// pepper, kept out of the database, makes a stolen database alone useless for guessing; (2) online guessing is
// bounded by the lockouts (5 MPINs, 10 passwords) and the rate limits, which hold across the cluster; (3) an MPIN
// has 10^4 to 10^6 values, so no affordable hash cost protects it offline anyway, only the pepper does. Memory
// rather than passes (t=1) because memory is what makes GPU and ASIC guessing expensive; p=1 because concurrency
// comes from parallel requests, not lanes. Raise the parameters on nodes with more cores: each hash records its own
// parameters (PHC string), and one made with old parameters is replaced at the user's next successful login or
// MPIN. Measured on the shared reference box (load average 3 to 4 from other builds): p50 150 to 165 ms, p99 315
// to 435 ms, 115 to 120 pairs/s (BenchmarkLoginAndMPIN); the 200 ms p99 holds only on an otherwise idle box.
type Config struct {
	// Issuer is the `iss` claim of every token, checked on verify. Default "behaviorauth".
	Issuer string
	// SigningKey signs access and session tokens with HMAC-SHA256 (HS256, the only algorithm accepted on verify).
	// At least 32 bytes. Required.
	SigningKey string
	// Pepper is the server-side secret mixed into every password and MPIN hash: the secret is first HMAC-SHA256'd
	// with the pepper as key, and argon2id hashes that 32-byte MAC. Changing it invalidates every stored hash. At
	// least 16 bytes. Required.
	Pepper string
	// OperatorKey is the static bearer secret of operator endpoints (IsOperator). At least 24 bytes; empty
	// disables operator access (IsOperator is always false).
	OperatorKey string

	// AccessTTL is the lifetime of an access token. Default 15m.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of a refresh token; each rotation issues a new one with a full lifetime.
	// Default 720h (30 days).
	RefreshTTL time.Duration
	// SessionTTL is the lifetime of a behavioral session and its token. Default 12h.
	SessionTTL time.Duration

	// Argon2Time is argon2id's number of passes over memory. Default 1 (see the type's comment). At most 64.
	Argon2Time int
	// Argon2MemoryKiB is argon2id's memory per hash in KiB. Default 2048 (2 MiB). At least 8 × Argon2Threads,
	// at most 2097152 (2 GiB).
	Argon2MemoryKiB int
	// Argon2Threads is argon2id's parallelism (lanes). Default 1. At most 255.
	Argon2Threads int
	// HashConcurrency bounds the hashes computed at once by this node; more wait (honouring their context), so a
	// burst cannot exhaust memory: peak hashing memory is HashConcurrency × Argon2MemoryKiB. Default
	// GOMAXPROCS / Argon2Threads, at least 1.
	HashConcurrency int

	// MPINMaxFailures locks the MPIN after this many wrong answers in a row. Default 5.
	MPINMaxFailures int
	// LoginMaxFailures locks the password login after this many wrong passwords in a row. Default 10.
	LoginMaxFailures int
	// LockDuration is how long a lock lasts. Default 15m.
	LockDuration time.Duration
	// AttemptTimeout bounds one credential check, queueing for the hasher included. Its reservation of a lockout
	// attempt lapses after twice this if the node dies before settling it. Default 10s.
	AttemptTimeout time.Duration

	// RateWindow is the rate-limit window (sliding: the previous window is weighed in). Default 1m.
	RateWindow time.Duration
	// RatePerAddress bounds the requests of one client address per RateWindow, per operation (register, login,
	// refresh, mpin), whatever account they name: it is what slows credential stuffing from one address.
	// Default 30.
	RatePerAddress int
	// RatePerAccount bounds the requests naming one account (phone or user) per RateWindow, per operation,
	// whatever address they come from. Default 10.
	RatePerAccount int
}

// Defaults for the zero fields of Config.
const (
	DefaultIssuer           = "behaviorauth"
	DefaultAccessTTL        = 15 * time.Minute
	DefaultRefreshTTL       = 720 * time.Hour
	DefaultSessionTTL       = 12 * time.Hour
	DefaultArgon2Time       = 1
	DefaultArgon2MemoryKiB  = 2 * 1024
	DefaultArgon2Threads    = 1
	DefaultMPINMaxFailures  = 5
	DefaultLoginMaxFailures = 10
	DefaultLockDuration     = 15 * time.Minute
	DefaultAttemptTimeout   = 10 * time.Second
	DefaultRateWindow       = time.Minute
	DefaultRatePerAddress   = 30
	DefaultRatePerAccount   = 10
)

const (
	minSigningKey  = 32
	minPepper      = 16
	minOperatorKey = 24
	maxArgon2Time  = 64
	maxArgon2MiB   = 2 << 20 // KiB
	maxArgon2Lanes = 255
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	setDur(&c.AccessTTL, DefaultAccessTTL)
	setDur(&c.RefreshTTL, DefaultRefreshTTL)
	setDur(&c.SessionTTL, DefaultSessionTTL)
	setInt(&c.Argon2Time, DefaultArgon2Time)
	setInt(&c.Argon2MemoryKiB, DefaultArgon2MemoryKiB)
	setInt(&c.Argon2Threads, DefaultArgon2Threads)
	if c.HashConcurrency == 0 && c.Argon2Threads > 0 {
		c.HashConcurrency = max(1, runtime.GOMAXPROCS(0)/c.Argon2Threads)
	}
	setInt(&c.MPINMaxFailures, DefaultMPINMaxFailures)
	setInt(&c.LoginMaxFailures, DefaultLoginMaxFailures)
	setDur(&c.LockDuration, DefaultLockDuration)
	setDur(&c.AttemptTimeout, DefaultAttemptTimeout)
	setDur(&c.RateWindow, DefaultRateWindow)
	setInt(&c.RatePerAddress, DefaultRatePerAddress)
	setInt(&c.RatePerAccount, DefaultRatePerAccount)
	return c
}

func setDur(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

func setInt(i *int, def int) {
	if *i == 0 {
		*i = def
	}
}

// Validate checks c (after defaults) and names the first bad key. Secrets are never echoed.
func (c Config) Validate() error {
	c = c.WithDefaults()
	bad := func(key, msg string) error { return fmt.Errorf("auth: config %s: %s", key, msg) }
	switch {
	case len(c.SigningKey) < minSigningKey:
		return bad("SigningKey", fmt.Sprintf("must be at least %d bytes", minSigningKey))
	case len(c.Pepper) < minPepper:
		return bad("Pepper", fmt.Sprintf("must be at least %d bytes", minPepper))
	case c.OperatorKey != "" && len(c.OperatorKey) < minOperatorKey:
		return bad("OperatorKey", fmt.Sprintf("must be empty or at least %d bytes", minOperatorKey))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"AccessTTL", c.AccessTTL}, {"RefreshTTL", c.RefreshTTL}, {"SessionTTL", c.SessionTTL},
		{"LockDuration", c.LockDuration}, {"AttemptTimeout", c.AttemptTimeout}, {"RateWindow", c.RateWindow},
	} {
		if d.v < 0 {
			return bad(d.key, fmt.Sprintf("must be positive, got %s", d.v))
		}
	}
	if c.RateWindow < time.Second {
		return bad("RateWindow", fmt.Sprintf("must be at least 1s, got %s", c.RateWindow))
	}
	for _, n := range []struct {
		key string
		v   int
	}{
		{"HashConcurrency", c.HashConcurrency}, {"MPINMaxFailures", c.MPINMaxFailures},
		{"LoginMaxFailures", c.LoginMaxFailures}, {"RatePerAddress", c.RatePerAddress},
		{"RatePerAccount", c.RatePerAccount},
	} {
		if n.v < 1 {
			return bad(n.key, fmt.Sprintf("must be at least 1, got %d", n.v))
		}
	}
	switch {
	case c.Argon2Time < 1 || c.Argon2Time > maxArgon2Time:
		return bad("Argon2Time", fmt.Sprintf("must be 1..%d, got %d", maxArgon2Time, c.Argon2Time))
	case c.Argon2Threads < 1 || c.Argon2Threads > maxArgon2Lanes:
		return bad("Argon2Threads", fmt.Sprintf("must be 1..%d, got %d", maxArgon2Lanes, c.Argon2Threads))
	case c.Argon2MemoryKiB < 8*c.Argon2Threads || c.Argon2MemoryKiB > maxArgon2MiB:
		return bad("Argon2MemoryKiB", fmt.Sprintf("must be %d..%d (8 × Argon2Threads at least), got %d",
			8*c.Argon2Threads, maxArgon2MiB, c.Argon2MemoryKiB))
	}
	return nil
}
