// Package config loads a node's configuration: cluster.yaml, then environment variables, then flags, then
// validation that names the bad key and value. Every key in the file can be overridden: the key `http.listen`
// is the flag `-http.listen` and the variable BEHAVIOR_HTTP_LISTEN.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration of one behaviord node. Defaults are those of Default.
type Config struct {
	Cluster   Cluster   `yaml:"cluster"`
	HTTP      HTTP      `yaml:"http"`
	Database  Database  `yaml:"database"`
	Auth      Auth      `yaml:"auth"`
	Policy    Policy    `yaml:"policy"`
	Limits    Limits    `yaml:"limits"`
	Index     Index     `yaml:"index"`
	Telemetry Telemetry `yaml:"telemetry"`
}

// Cluster configures the Proto.Actor cluster membership of the node.
type Cluster struct {
	// Name of the cluster; members with another name never join. Default "behavior".
	Name string `yaml:"name"`
	// Provider of membership: "automanaged" (static member list) or "etcd". Default "automanaged".
	Provider string `yaml:"provider"`
	// Host the remote (actor-to-actor) endpoint binds and advertises. Default "127.0.0.1".
	Host string `yaml:"host"`
	// Port of the remote endpoint; 0 picks a free one. Default 0.
	Port int `yaml:"port"`
	// Roles this node plays: "session", "profile" (cluster kinds it hosts). Default both.
	Roles []string `yaml:"roles"`
	// RequestTimeout bounds a request to a session or profile actor. Default 2s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// Automanaged configures the static member list provider.
	Automanaged Automanaged `yaml:"automanaged"`
	// Etcd configures the etcd provider.
	Etcd Etcd `yaml:"etcd"`
}

// Automanaged configures the automanaged provider: every member serves its health on Port and polls Hosts.
type Automanaged struct {
	// Port of this member's membership endpoint. Default 6330.
	Port int `yaml:"port"`
	// Hosts lists every member's membership endpoint (host:port). Default ["127.0.0.1:6330"].
	Hosts []string `yaml:"hosts"`
	// RefreshTTL is how often members are polled. Default 2s.
	RefreshTTL time.Duration `yaml:"refresh_ttl"`
}

// Etcd configures the etcd provider: members register under Prefix and join or leave on their own.
type Etcd struct {
	// Endpoints of the etcd cluster. Default ["127.0.0.1:2379"].
	Endpoints []string `yaml:"endpoints"`
	// Prefix of the membership keys. Default "/behavior".
	Prefix string `yaml:"prefix"`
	// DialTimeout bounds connecting to etcd. Default 5s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
}

// HTTP configures the client-facing HTTP and WebSocket listener.
type HTTP struct {
	// Listen is the address of REST, WebSocket, /healthz, /readyz and the demo page. Default "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// MetricsListen, when set, serves /metrics on its own address instead of Listen. Default "" (same port).
	MetricsListen string `yaml:"metrics_listen"`
	// AllowedOrigins lists the Origins a browser WebSocket may come from; "*" allows any. A request without an
	// Origin header (a native client) is always allowed. Default ["http://localhost:8080", "http://127.0.0.1:8080"].
	AllowedOrigins []string `yaml:"allowed_origins"`
	// ShutdownTimeout bounds the drain on SIGTERM. Default 15s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// RequestTimeout bounds one REST request end to end. Default 10s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// TrustProxyHeaders takes the client address from X-Forwarded-For (only behind a trusted proxy). Default false.
	TrustProxyHeaders bool `yaml:"trust_proxy_headers"`
}

// Database configures PostgreSQL.
type Database struct {
	// URL of the database (also DATABASE_URL). Required.
	URL string `yaml:"url"`
	// MaxConns bounds the pool. Default 16.
	MaxConns int `yaml:"max_conns"`
}

// Auth configures accounts, tokens and their protections. Secrets belong in the environment, not in the file.
type Auth struct {
	// SigningKey signs access and session tokens (HS256); at least 32 bytes. Required.
	SigningKey string `yaml:"signing_key"`
	// Pepper is mixed into every password and MPIN hash; at least 16 bytes. Required.
	Pepper string `yaml:"pepper"`
	// OperatorKey authorizes operator endpoints; at least 24 bytes. Required.
	OperatorKey string `yaml:"operator_key"`
	// AccessTTL is the lifetime of an access token. Default 15m.
	AccessTTL time.Duration `yaml:"access_ttl"`
	// RefreshTTL is the lifetime of a refresh token. Default 720h.
	RefreshTTL time.Duration `yaml:"refresh_ttl"`
	// SessionTTL is the lifetime of a behavioral session and its token. Default 12h.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// Argon2Time is argon2id's number of passes. Default 1.
	Argon2Time int `yaml:"argon2_time"`
	// Argon2MemoryKiB is argon2id's memory in KiB. Default 2048 (2 MiB), sized so that a login plus an MPIN
	// verify stays under 200 ms at p99 with 20 concurrent clients on a 2-core node (make bench; 7 MiB gives
	// 307 ms there). The offline defence of a stolen table is the pepper, which the database does not hold;
	// raise this on larger nodes: each stored hash keeps its parameters and is rehashed at the next success.
	Argon2MemoryKiB int `yaml:"argon2_memory_kib"`
	// Argon2Threads is argon2id's parallelism. Default 1.
	Argon2Threads int `yaml:"argon2_threads"`
	// MPINMaxFailures locks the MPIN after this many wrong answers in a row. Default 5.
	MPINMaxFailures int `yaml:"mpin_max_failures"`
	// LoginMaxFailures locks the password login after this many failures in a row. Default 10.
	LoginMaxFailures int `yaml:"login_max_failures"`
	// LockDuration is how long a lock lasts. Default 15m.
	LockDuration time.Duration `yaml:"lock_duration"`
	// RatePerAddress bounds auth requests per client address per RateWindow. Default 60.
	RatePerAddress int `yaml:"rate_per_address"`
	// RatePerAccount bounds auth requests per account per RateWindow. Default 10.
	RatePerAccount int `yaml:"rate_per_account"`
	// RateWindow is the rate-limit window. Default 1m.
	RateWindow time.Duration `yaml:"rate_window"`
}

// Policy is the decision policy and the behavioral model's settings.
type Policy struct {
	// ChallengeThreshold: a session risk at or above it asks for a step-up. Default 0.6.
	ChallengeThreshold float64 `yaml:"challenge_threshold"`
	// BlockThreshold: a session risk at or above it blocks. Default 0.9.
	BlockThreshold float64 `yaml:"block_threshold"`
	// ChallengeTimeout is how long a client has to answer a challenge before the session is blocked. Default 2m.
	ChallengeTimeout time.Duration `yaml:"challenge_timeout"`
	// ChallengeFailures blocks the session after this many wrong step-up answers. Default 3.
	ChallengeFailures int `yaml:"challenge_failures"`
	// WindowEvents bounds the rolling window in events. Default 2000.
	WindowEvents int `yaml:"window_events"`
	// WindowDuration bounds the rolling window in time. Default 5m.
	WindowDuration time.Duration `yaml:"window_duration"`
	// EnrollmentSamples is how many samples of a field enroll it before scoring starts. Default 10.
	EnrollmentSamples int `yaml:"enrollment_samples"`
	// MaxTemplates bounds the stored samples per field (adaptation drops the oldest). Default 200.
	MaxTemplates int `yaml:"max_templates"`
	// Adaptation is "off", "feedback" (templates change only on feedback) or "auto" (confidently genuine
	// samples are added). Default "feedback".
	Adaptation string `yaml:"adaptation"`
	// DegradedAction is the action while the profile or Postgres cannot be reached: "allow", "challenge" or
	// "block". Default "challenge".
	DegradedAction string `yaml:"degraded_action"`
	// IdleTimeout ends a session that received nothing for this long. Default 10m.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// SnapshotInterval is how often a changed session snapshots itself. Default 2s.
	SnapshotInterval time.Duration `yaml:"snapshot_interval"`
}

// Limits bound what one client can make the node do.
type Limits struct {
	// MaxFrameBytes is the largest WebSocket frame; larger closes with 1009. Default 65536.
	MaxFrameBytes int `yaml:"max_frame_bytes"`
	// MaxBodyBytes is the largest REST body; larger answers 413. Default 65536.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// MessagesPerSecond is the sustained WebSocket message rate per connection; over it closes with 1008.
	// Default 50.
	MessagesPerSecond float64 `yaml:"messages_per_second"`
	// MessageBurst is the burst allowed above MessagesPerSecond. Default 100.
	MessageBurst int `yaml:"message_burst"`
	// MaxEventsPerMessage bounds the events of one `events` message. Default 512.
	MaxEventsPerMessage int `yaml:"max_events_per_message"`
	// OutgoingQueue bounds the frames waiting for a slow reader; a full queue disconnects it. Default 256.
	OutgoingQueue int `yaml:"outgoing_queue"`
	// PingInterval is the WebSocket keepalive period; a peer silent for twice as long is dropped. Default 20s.
	PingInterval time.Duration `yaml:"ping_interval"`
	// WriteTimeout bounds one WebSocket write. Default 5s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
}

// Index configures the pool of FAISS index actors.
type Index struct {
	// PoolSize is the number of index actors. Default 4.
	PoolSize int `yaml:"pool_size"`
	// MaxIndexes bounds the indexes held in memory across the pool; the least recently used is evicted.
	// Default 20000.
	MaxIndexes int `yaml:"max_indexes"`
	// IdleEvict evicts an index unused for this long. Default 10m.
	IdleEvict time.Duration `yaml:"idle_evict"`
	// Neighbors is k of the k-nearest-neighbour search. Default 3.
	Neighbors int `yaml:"neighbors"`
}

// Telemetry configures logs, traces and metrics.
type Telemetry struct {
	// LogLevel is "debug", "info", "warn" or "error". Default "info".
	LogLevel string `yaml:"log_level"`
	// LogFormat is "json" or "text". Default "json".
	LogFormat string `yaml:"log_format"`
	// Traces is where spans go: "none", "stdout" or "otlp". Default "none".
	Traces string `yaml:"traces"`
	// OTLPEndpoint is the OTLP/HTTP collector (host:port) when Traces is "otlp". Default "127.0.0.1:4318".
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// SampleRatio is the fraction of traces kept. Default 1.0.
	SampleRatio float64 `yaml:"sample_ratio"`
	// Pprof serves Go's profiler at /debug/pprof/ next to /metrics (bind that where only operators reach it).
	// Default false.
	Pprof bool `yaml:"pprof"`
}

// Default returns the configuration used for every key that neither the file, the environment nor a flag sets.
func Default() Config {
	return Config{
		Cluster: Cluster{
			Name: "behavior", Provider: "automanaged", Host: "127.0.0.1", Port: 0,
			Roles: []string{"session", "profile"}, RequestTimeout: 2 * time.Second,
			Automanaged: Automanaged{Port: 6330, Hosts: []string{"127.0.0.1:6330"}, RefreshTTL: 2 * time.Second},
			Etcd:        Etcd{Endpoints: []string{"127.0.0.1:2379"}, Prefix: "/behavior", DialTimeout: 5 * time.Second},
		},
		HTTP: HTTP{
			Listen:          "127.0.0.1:8080",
			AllowedOrigins:  []string{"http://localhost:8080", "http://127.0.0.1:8080"},
			ShutdownTimeout: 15 * time.Second, RequestTimeout: 10 * time.Second,
		},
		Database: Database{MaxConns: 16},
		Auth: Auth{
			AccessTTL: 15 * time.Minute, RefreshTTL: 720 * time.Hour, SessionTTL: 12 * time.Hour,
			Argon2Time: 1, Argon2MemoryKiB: 2048, Argon2Threads: 1,
			MPINMaxFailures: 5, LoginMaxFailures: 10, LockDuration: 15 * time.Minute,
			RatePerAddress: 60, RatePerAccount: 10, RateWindow: time.Minute,
		},
		Policy: Policy{
			ChallengeThreshold: 0.6, BlockThreshold: 0.9, ChallengeTimeout: 2 * time.Minute, ChallengeFailures: 3,
			WindowEvents: 2000, WindowDuration: 5 * time.Minute, EnrollmentSamples: 10, MaxTemplates: 200,
			Adaptation: "feedback", DegradedAction: "challenge", IdleTimeout: 10 * time.Minute,
			SnapshotInterval: 2 * time.Second,
		},
		Limits: Limits{
			MaxFrameBytes: 64 << 10, MaxBodyBytes: 64 << 10, MessagesPerSecond: 50, MessageBurst: 100,
			MaxEventsPerMessage: 512, OutgoingQueue: 256, PingInterval: 20 * time.Second, WriteTimeout: 5 * time.Second,
		},
		Index:     Index{PoolSize: 4, MaxIndexes: 20000, IdleEvict: 10 * time.Minute, Neighbors: 3},
		Telemetry: Telemetry{LogLevel: "info", LogFormat: "json", Traces: "none", OTLPEndpoint: "127.0.0.1:4318", SampleRatio: 1},
	}
}

// ErrHelp is returned by Load when -h or -help was asked for; the usage has been printed.
var ErrHelp = flag.ErrHelp

// Load builds the configuration: defaults, then the YAML file (-config in args, else path; unknown keys are
// errors), then BEHAVIOR_* environment variables (and DATABASE_URL for database.url), then the other flags in
// args, then Validate. env looks a variable up; nil means the process environment.
func Load(path string, args []string, env func(string) (string, bool)) (Config, error) {
	cfg := Default()
	keys := keysOf(&cfg)

	fs := flag.NewFlagSet("behaviord", flag.ContinueOnError)
	configPath := fs.String("config", path, "path of the YAML configuration file")
	flagValues := make(map[string]*string, len(keys))
	for _, k := range keys {
		flagValues[k.name] = fs.String(k.name, "", k.usage)
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}

	if *configPath != "" {
		b, err := os.ReadFile(*configPath)
		if err != nil {
			return Config{}, fmt.Errorf("config: read %s: %w", *configPath, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, fmt.Errorf("config: %s: %w", *configPath, err)
		}
	}

	if env == nil {
		env = os.LookupEnv
	}
	if v, ok := env("DATABASE_URL"); ok && v != "" {
		cfg.Database.URL = v
	}
	for _, k := range keys {
		if v, ok := env(k.env); ok {
			if err := k.set(v); err != nil {
				return Config{}, fmt.Errorf("config: %s (from %s) = %q: %w", k.name, k.env, v, err)
			}
		}
	}
	var flagErr error
	fs.Visit(func(f *flag.Flag) {
		k, ok := keyByName(keys, f.Name)
		if !ok || flagErr != nil {
			return
		}
		if err := k.set(*flagValues[f.Name]); err != nil {
			flagErr = fmt.Errorf("config: %s (from -%s) = %q: %w", k.name, k.name, *flagValues[f.Name], err)
		}
	})
	if flagErr != nil {
		return Config{}, flagErr
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
