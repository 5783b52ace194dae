package auth

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	base := Config{SigningKey: testSigningKey, Pepper: testPepper}
	tests := []struct {
		name string
		edit func(*Config)
		key  string // "" means valid
	}{
		{"defaults with secrets", func(*Config) {}, ""},
		{"with operator key", func(c *Config) { c.OperatorKey = testOperatorKey }, ""},
		{"no signing key", func(c *Config) { c.SigningKey = "" }, "SigningKey"},
		{"short signing key", func(c *Config) { c.SigningKey = strings.Repeat("k", 31) }, "SigningKey"},
		{"short pepper", func(c *Config) { c.Pepper = "pepper" }, "Pepper"},
		{"short operator key", func(c *Config) { c.OperatorKey = "op" }, "OperatorKey"},
		{"negative access ttl", func(c *Config) { c.AccessTTL = -time.Second }, "AccessTTL"},
		{"negative lock", func(c *Config) { c.LockDuration = -time.Minute }, "LockDuration"},
		{"tiny rate window", func(c *Config) { c.RateWindow = time.Millisecond }, "RateWindow"},
		{"negative mpin failures", func(c *Config) { c.MPINMaxFailures = -1 }, "MPINMaxFailures"},
		{"negative per address", func(c *Config) { c.RatePerAddress = -5 }, "RatePerAddress"},
		{"too many passes", func(c *Config) { c.Argon2Time = 65 }, "Argon2Time"},
		{"too many lanes", func(c *Config) { c.Argon2Threads = 256 }, "Argon2Threads"},
		{"too little memory for lanes", func(c *Config) { c.Argon2Threads = 4; c.Argon2MemoryKiB = 16 }, "Argon2MemoryKiB"},
		{"too much memory", func(c *Config) { c.Argon2MemoryKiB = 4 << 20 }, "Argon2MemoryKiB"},
		{"negative concurrency", func(c *Config) { c.HashConcurrency = -1 }, "HashConcurrency"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			err := c.Validate()
			if tc.key == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), " "+tc.key+":") {
				t.Fatalf("Validate: %v, want an error naming %s", err, tc.key)
			}
			for _, secret := range []string{c.SigningKey, c.Pepper, c.OperatorKey} {
				if len(secret) > 3 && strings.Contains(err.Error(), secret) {
					t.Fatalf("error echoes a secret: %v", err)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.WithDefaults()
	want := Config{
		Issuer: "behaviorauth", AccessTTL: 15 * time.Minute, RefreshTTL: 30 * 24 * time.Hour, SessionTTL: 12 * time.Hour,
		Argon2Time: 1, Argon2MemoryKiB: 2048, Argon2Threads: 1, HashConcurrency: runtime.GOMAXPROCS(0),
		MPINMaxFailures: 5, LoginMaxFailures: 10, LockDuration: 15 * time.Minute, AttemptTimeout: 10 * time.Second,
		RateWindow: time.Minute, RatePerAddress: 30, RatePerAccount: 10,
	}
	if c != want {
		t.Fatalf("defaults\n got %+v\nwant %+v", c, want)
	}
	set := Config{AccessTTL: time.Minute, Argon2Threads: 2, HashConcurrency: 7}.WithDefaults()
	if set.AccessTTL != time.Minute || set.Argon2Threads != 2 || set.HashConcurrency != 7 {
		t.Fatalf("WithDefaults overwrote set fields: %+v", set)
	}
}
