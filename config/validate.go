package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// InvalidError names the configuration key that is wrong, its value and why.
type InvalidError struct {
	Key    string
	Value  string
	Reason string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("config: %s = %q: %s", e.Key, e.Value, e.Reason)
}

// Validate checks every key and returns all the problems found, each an *InvalidError.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key string, value any, reason string) {
		errs = append(errs, &InvalidError{Key: key, Value: fmt.Sprint(value), Reason: reason})
	}
	nonEmpty := func(key, v string) {
		if v == "" {
			bad(key, v, "must be set")
		}
	}
	positiveDur := func(key string, d time.Duration) {
		if d <= 0 {
			bad(key, d, "must be a positive duration")
		}
	}
	positive := func(key string, n int) {
		if n <= 0 {
			bad(key, n, "must be greater than zero")
		}
	}
	hostPort := func(key, v string, allowEmpty bool) {
		if v == "" && allowEmpty {
			return
		}
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			bad(key, v, "must be host:port")
			return
		}
		_ = host
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad(key, v, "port must be 0..65535")
		}
	}
	oneOf := func(key, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(key, v, fmt.Sprintf("must be one of %q", allowed))
	}
	unit := func(key string, x float64) {
		if !(x > 0 && x <= 1) {
			bad(key, x, "must be in (0, 1]")
		}
	}

	cl := c.Cluster
	nonEmpty("cluster.name", cl.Name)
	oneOf("cluster.provider", cl.Provider, "automanaged", "etcd")
	nonEmpty("cluster.host", cl.Host)
	if cl.Port < 0 || cl.Port > 65535 {
		bad("cluster.port", cl.Port, "must be 0..65535")
	}
	if len(cl.Roles) == 0 {
		bad("cluster.roles", cl.Roles, "must name at least one of session, profile")
	}
	for _, r := range cl.Roles {
		oneOf("cluster.roles", r, "session", "profile")
	}
	positiveDur("cluster.request_timeout", cl.RequestTimeout)
	switch cl.Provider {
	case "automanaged":
		if cl.Automanaged.Port <= 0 || cl.Automanaged.Port > 65535 {
			bad("cluster.automanaged.port", cl.Automanaged.Port, "must be 1..65535")
		}
		if len(cl.Automanaged.Hosts) == 0 {
			bad("cluster.automanaged.hosts", cl.Automanaged.Hosts, "must list at least this member")
		}
		for _, h := range cl.Automanaged.Hosts {
			hostPort("cluster.automanaged.hosts", h, false)
		}
		positiveDur("cluster.automanaged.refresh_ttl", cl.Automanaged.RefreshTTL)
	case "etcd":
		if len(cl.Etcd.Endpoints) == 0 {
			bad("cluster.etcd.endpoints", cl.Etcd.Endpoints, "must list at least one endpoint")
		}
		nonEmpty("cluster.etcd.prefix", cl.Etcd.Prefix)
		positiveDur("cluster.etcd.dial_timeout", cl.Etcd.DialTimeout)
	}

	hostPort("http.listen", c.HTTP.Listen, false)
	hostPort("http.metrics_listen", c.HTTP.MetricsListen, true)
	positiveDur("http.shutdown_timeout", c.HTTP.ShutdownTimeout)
	positiveDur("http.request_timeout", c.HTTP.RequestTimeout)

	nonEmpty("database.url", c.Database.URL)
	positive("database.max_conns", c.Database.MaxConns)

	a := c.Auth
	if len(a.SigningKey) < 32 {
		bad("auth.signing_key", "(secret)", "must be at least 32 bytes (set BEHAVIOR_AUTH_SIGNING_KEY)")
	}
	if len(a.Pepper) < 16 {
		bad("auth.pepper", "(secret)", "must be at least 16 bytes (set BEHAVIOR_AUTH_PEPPER)")
	}
	if len(a.OperatorKey) < 24 {
		bad("auth.operator_key", "(secret)", "must be at least 24 bytes (set BEHAVIOR_AUTH_OPERATOR_KEY)")
	}
	positiveDur("auth.access_ttl", a.AccessTTL)
	positiveDur("auth.refresh_ttl", a.RefreshTTL)
	positiveDur("auth.session_ttl", a.SessionTTL)
	positive("auth.argon2_time", a.Argon2Time)
	if a.Argon2MemoryKiB < 8*a.Argon2Threads || a.Argon2MemoryKiB <= 0 {
		bad("auth.argon2_memory_kib", a.Argon2MemoryKiB, "must be at least 8 × argon2_threads")
	}
	if a.Argon2Threads <= 0 || a.Argon2Threads > 255 {
		bad("auth.argon2_threads", a.Argon2Threads, "must be 1..255")
	}
	positive("auth.mpin_max_failures", a.MPINMaxFailures)
	positive("auth.login_max_failures", a.LoginMaxFailures)
	positiveDur("auth.lock_duration", a.LockDuration)
	positive("auth.rate_per_address", a.RatePerAddress)
	positive("auth.rate_per_account", a.RatePerAccount)
	positiveDur("auth.rate_window", a.RateWindow)

	p := c.Policy
	unit("policy.challenge_threshold", p.ChallengeThreshold)
	unit("policy.block_threshold", p.BlockThreshold)
	if p.BlockThreshold < p.ChallengeThreshold {
		bad("policy.block_threshold", p.BlockThreshold, "must not be below policy.challenge_threshold")
	}
	positiveDur("policy.challenge_timeout", p.ChallengeTimeout)
	positive("policy.challenge_failures", p.ChallengeFailures)
	positive("policy.window_events", p.WindowEvents)
	positiveDur("policy.window_duration", p.WindowDuration)
	if p.EnrollmentSamples < 3 {
		bad("policy.enrollment_samples", p.EnrollmentSamples, "must be at least 3")
	}
	if p.MaxTemplates < p.EnrollmentSamples {
		bad("policy.max_templates", p.MaxTemplates, "must not be below policy.enrollment_samples")
	}
	oneOf("policy.adaptation", p.Adaptation, "off", "feedback", "auto")
	oneOf("policy.degraded_action", p.DegradedAction, "allow", "challenge", "block")
	positiveDur("policy.idle_timeout", p.IdleTimeout)
	positiveDur("policy.snapshot_interval", p.SnapshotInterval)

	l := c.Limits
	if l.MaxFrameBytes < 1024 {
		bad("limits.max_frame_bytes", l.MaxFrameBytes, "must be at least 1024")
	}
	if l.MaxBodyBytes < 1024 {
		bad("limits.max_body_bytes", l.MaxBodyBytes, "must be at least 1024")
	}
	if !(l.MessagesPerSecond > 0) {
		bad("limits.messages_per_second", l.MessagesPerSecond, "must be greater than zero")
	}
	positive("limits.message_burst", l.MessageBurst)
	positive("limits.max_events_per_message", l.MaxEventsPerMessage)
	positive("limits.outgoing_queue", l.OutgoingQueue)
	positiveDur("limits.ping_interval", l.PingInterval)
	positiveDur("limits.write_timeout", l.WriteTimeout)

	positive("index.pool_size", c.Index.PoolSize)
	positive("index.max_indexes", c.Index.MaxIndexes)
	positiveDur("index.idle_evict", c.Index.IdleEvict)
	positive("index.neighbors", c.Index.Neighbors)

	t := c.Telemetry
	oneOf("telemetry.log_level", t.LogLevel, "debug", "info", "warn", "error")
	oneOf("telemetry.log_format", t.LogFormat, "json", "text")
	oneOf("telemetry.traces", t.Traces, "none", "stdout", "otlp")
	if t.Traces == "otlp" {
		hostPort("telemetry.otlp_endpoint", t.OTLPEndpoint, false)
	}
	if !(t.SampleRatio >= 0 && t.SampleRatio <= 1) {
		bad("telemetry.sample_ratio", t.SampleRatio, "must be in [0, 1]")
	}
	return errors.Join(errs...)
}

// HasRole reports whether the node hosts the cluster kind named role.
func (c *Config) HasRole(role string) bool {
	for _, r := range c.Cluster.Roles {
		if r == role {
			return true
		}
	}
	return false
}
