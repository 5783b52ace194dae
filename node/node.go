// Package node assembles one behaviord cluster member: telemetry, PostgreSQL, the actor system and its cluster,
// the accounts service and the HTTP/WebSocket transport, and shuts them down in order.
package node

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/behaviorauth/engine/actors"
	"github.com/behaviorauth/engine/auth"
	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/persistence"
	"github.com/behaviorauth/engine/telemetry"
	"github.com/behaviorauth/engine/transport"
	"github.com/behaviorauth/engine/web"
)

// Node is one running member of the cluster.
type Node struct {
	cfg      config.Config
	tel      *telemetry.Telemetry
	log      *slog.Logger
	pool     *pgxpool.Pool
	system   *actor.ActorSystem
	cluster  *cluster.Cluster
	http     *http.Server
	ln       net.Listener
	metrics  *http.Server
	metricLn net.Listener
	draining atomic.Bool
	id       string
	engine   *actors.Engine
	auth     *auth.Service
	srv      *transport.Server
	members  atomic.Int64 // members in this node's view, from the cluster's topology events
	stopReq  chan struct{}
	stopOnce sync.Once
}

// Option adjusts how New builds a node (tests use them).
type Option func(*options)

type options struct {
	logOutput  io.Writer
	engineOpts []actors.Option
}

// WithEngineOptions passes options to the engine (tests inject faults with them).
func WithEngineOptions(opts ...actors.Option) Option {
	return func(o *options) { o.engineOpts = append(o.engineOpts, opts...) }
}

// WithLogOutput sends the node's logs to w instead of standard error.
func WithLogOutput(w io.Writer) Option { return func(o *options) { o.logOutput = w } }

// New starts everything but the HTTP listeners' serving loops: it connects to Postgres and applies migrations,
// joins the cluster and binds the listeners, so that errors surface before Run. ctx bounds the start.
func New(ctx context.Context, cfg config.Config, opts ...Option) (n *Node, err error) {
	o := options{logOutput: os.Stderr}
	for _, opt := range opts {
		opt(&o)
	}
	n = &Node{cfg: cfg, stopReq: make(chan struct{})}
	defer func() {
		if err != nil {
			n.close(context.Background())
		}
	}()

	n.ln, err = net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("node: listen http.listen=%s: %w", cfg.HTTP.Listen, err)
	}
	n.id = n.ln.Addr().String()
	n.ln = transport.CorkListener(n.ln)
	if cfg.HTTP.MetricsListen != "" {
		if n.metricLn, err = net.Listen("tcp", cfg.HTTP.MetricsListen); err != nil {
			return nil, fmt.Errorf("node: listen http.metrics_listen=%s: %w", cfg.HTTP.MetricsListen, err)
		}
	}

	if n.tel, err = telemetry.Setup(cfg.Telemetry, n.id, o.logOutput); err != nil {
		return nil, err
	}
	n.log = n.tel.Logger

	if n.pool, err = persistence.Open(ctx, cfg.Database.URL, persistence.PoolConfig{MaxConns: int32(cfg.Database.MaxConns), Tracer: n.tel.Tracer}); err != nil {
		return nil, err
	}
	if err = persistence.Migrate(ctx, n.pool); err != nil {
		return nil, err
	}

	if n.auth, err = auth.New(authConfig(cfg.Auth), persistence.NewAccounts(n.pool), n.log.With("component", "auth")); err != nil {
		return nil, err
	}

	n.system = actors.NewSystem(n.log)
	// The member list is read from topology events rather than from the cluster's MemberList, whose length is
	// not safe to read while the provider updates it.
	n.system.EventStream.Subscribe(func(evt any) {
		if t, ok := evt.(*cluster.ClusterTopology); ok {
			n.members.Store(int64(len(t.Members)))
		}
	})
	n.engine, err = actors.New(cfg, actors.Deps{
		Logger: n.log, System: n.system, Meter: n.tel.Meter, Tracer: n.tel.Tracer, NodeName: n.id,
		Sessions: persistence.NewSessions(n.pool), Profiles: persistence.NewProfiles(n.pool),
		Feedback: persistence.NewFeedbackStore(n.pool),
		Ping:     n.pool.Ping,
		OnBlock:  n.onBlock,
		OnEnd:    n.onEnd,
	}, o.engineOpts...)
	if err != nil {
		return nil, err
	}
	if n.cluster, err = actors.StartCluster(n.system, cfg.Cluster, n.engine.Kinds(cfg.HasRole)); err != nil {
		return nil, err
	}
	n.engine.Start(n.cluster)
	n.log.Info("cluster member started", "cluster", cfg.Cluster.Name, "provider", cfg.Cluster.Provider, "address", n.system.Address())

	var metricsHandler http.Handler = n.tel.MetricsHandler()
	var pprofHandler http.Handler
	if cfg.Telemetry.Pprof {
		pprofHandler = pprofMux()
	}
	if n.metricLn != nil {
		mm := http.NewServeMux()
		mm.Handle("GET /metrics", metricsHandler)
		if pprofHandler != nil {
			mm.Handle("GET /debug/pprof/", pprofHandler)
		}
		n.metrics = &http.Server{Handler: mm, ReadHeaderTimeout: 5 * time.Second}
		metricsHandler, pprofHandler = nil, nil
	}
	n.srv = transport.New(transport.Options{
		Logger:         n.log,
		Tracer:         n.tel.Tracer,
		Metrics:        metricsHandler,
		RequestTimeout: cfg.HTTP.RequestTimeout,
		MaxBodyBytes:   cfg.Limits.MaxBodyBytes,
		Draining:       n.draining.Load,
		Members:        n.Members,
		Stop:           n.RequestStop,
		Pprof:          pprofHandler,
		Auth:           n.auth,
		Engine:         n.engine,
		HTTP:           cfg.HTTP,
		Limits:         cfg.Limits,
		Web:            webHandler(),
		KeyHashKey:     keyHashKey(cfg.Auth.Pepper),
		Checks: []transport.ReadinessCheck{
			{Name: "postgres", Critical: false, Check: func(ctx context.Context) error { return n.pool.Ping(ctx) }},
			{Name: "cluster", Critical: true, Check: n.clusterCheck},
		},
	})
	n.http = &http.Server{
		Handler:           n.srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
	}
	return n, nil
}

// Addr is the address the HTTP listener is bound to (useful with port 0).
func (n *Node) Addr() string { return n.ln.Addr().String() }

// Logger is the node's logger.
func (n *Node) Logger() *slog.Logger { return n.log }

func (n *Node) clusterCheck(context.Context) error {
	if n.cluster == nil {
		return errors.New("not a cluster member")
	}
	if n.members.Load() == 0 {
		return errors.New("no members in view")
	}
	return nil
}

// RequestStop makes Run drain and return, as a signal would (POST /v1/ops/drain).
func (n *Node) RequestStop() { n.stopOnce.Do(func() { close(n.stopReq) }) }

// Members is the number of cluster members in this node's view.
func (n *Node) Members() int { return int(n.members.Load()) }

// Run serves until ctx is cancelled, then drains and stops everything within http.shutdown_timeout.
func (n *Node) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() { errc <- n.http.Serve(n.ln) }()
	if n.metrics != nil {
		go func() { errc <- n.metrics.Serve(n.metricLn) }()
	}
	n.log.Info("serving", "http", n.Addr())

	var runErr error
	select {
	case <-ctx.Done():
	case <-n.stopReq:
		n.log.Info("drain requested by an operator")
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("node: serve: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), n.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	n.close(sctx)
	return runErr
}

// close stops in the reverse order of start: stop taking requests, let in-flight ones finish, leave the
// cluster, flush telemetry, close the database.
func (n *Node) close(ctx context.Context) {
	n.draining.Store(true)
	if n.srv != nil {
		// WebSockets are hijacked connections that http.Server.Shutdown neither closes nor waits for: close them
		// with 1012 first, so clients reconnect to another node while this one still answers.
		n.srv.Drain(ctx)
	}
	if n.http != nil {
		if err := n.http.Shutdown(ctx); err != nil {
			n.log.Warn("http shutdown", "err", err)
		}
	} else if n.ln != nil {
		_ = n.ln.Close()
	}
	if n.metrics != nil {
		_ = n.metrics.Shutdown(ctx)
	} else if n.metricLn != nil {
		_ = n.metricLn.Close()
	}
	if n.engine != nil {
		n.engine.Stop()
	}
	if n.cluster != nil {
		n.cluster.Shutdown(true)
	} else if n.system != nil {
		n.system.Shutdown()
	}
	if n.pool != nil {
		n.pool.Close()
	}
	if n.tel != nil {
		if err := n.tel.Shutdown(ctx); err != nil {
			n.log.Warn("telemetry shutdown", "err", err)
		}
	}
	if n.log != nil {
		n.log.Info("stopped")
	}
}

// authConfig maps the auth section of cluster.yaml onto the accounts service's configuration.
func authConfig(a config.Auth) auth.Config {
	return auth.Config{
		SigningKey: a.SigningKey, Pepper: a.Pepper, OperatorKey: a.OperatorKey,
		AccessTTL: a.AccessTTL, RefreshTTL: a.RefreshTTL, SessionTTL: a.SessionTTL,
		Argon2Time: a.Argon2Time, Argon2MemoryKiB: a.Argon2MemoryKiB, Argon2Threads: a.Argon2Threads,
		MPINMaxFailures: a.MPINMaxFailures, LoginMaxFailures: a.LoginMaxFailures, LockDuration: a.LockDuration,
		RateWindow: a.RateWindow, RatePerAddress: a.RatePerAddress, RatePerAccount: a.RatePerAccount,
	}
}

// onBlock revokes every token of a blocked session's login and audits the block.
func (n *Node) onBlock(ctx context.Context, userID, loginID, sessionID, why string) error {
	if err := n.auth.RevokeLogin(ctx, loginID, "blocked"); err != nil {
		return err
	}
	return n.auth.Audit(ctx, auth.Event{Kind: auth.EventBlocked, UserID: userID, Outcome: auth.OutcomeOK,
		Detail: map[string]any{"session_id": sessionID, "why": why}})
}

// onEnd audits the end of a session.
func (n *Node) onEnd(ctx context.Context, userID, sessionID, reason string) {
	if err := n.auth.Audit(ctx, auth.Event{Kind: auth.EventSessionEnd, UserID: userID, Outcome: auth.OutcomeOK,
		Detail: map[string]any{"session_id": sessionID, "reason": reason}}); err != nil {
		n.log.Warn("audit of a session end failed", "session_id", sessionID, "err", err)
	}
}

// Cluster is the node's cluster member.
func (n *Node) Cluster() *cluster.Cluster { return n.cluster }

// Engine is the node's engine (for tests and tools in-process).
func (n *Node) Engine() *actors.Engine { return n.engine }

// Auth is the node's accounts service.
func (n *Node) Auth() *auth.Service { return n.auth }

// webHandler serves the demo page at /, the operator view at /ops and the SDK at /sdk/.
func webHandler() http.Handler {
	demo, err := fs.Sub(web.Files, "demo")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	pages := http.FileServerFS(demo)
	sdk := http.FileServerFS(web.Files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/sdk/"):
			sdk.ServeHTTP(w, r)
		case r.URL.Path == "/ops":
			http.ServeFileFS(w, r, demo, "ops.html")
		default:
			pages.ServeHTTP(w, r)
		}
	})
}

// keyHashKey derives the key-code hashing key from the pepper, a secret every node of the cluster shares, with a
// label so the same secret is never used for two purposes directly.
func keyHashKey(pepper string) []byte {
	m := hmac.New(sha256.New, []byte(pepper))
	m.Write([]byte("behavior key-code hashing v1"))
	return m.Sum(nil)
}

// pprofMux serves Go's profiler (telemetry.pprof).
func pprofMux() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return m
}
