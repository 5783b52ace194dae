// Package transport is the thin HTTP and WebSocket edge of a node: it authenticates, decodes and validates a
// request, turns it into one call of the engine (an actor message) or of the accounts service, waits with a
// deadline and maps the answer to the wire (PROTOCOL.md). No business rule lives here.
package transport

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/behaviorauth/engine/actors"
	"github.com/behaviorauth/engine/auth"
	"github.com/behaviorauth/engine/config"
)

// ReadinessCheck reports one dependency's state for /readyz: nil is healthy. A check marked Critical makes the
// node unready (503) when it fails; any other failing check makes it "degraded" but ready.
type ReadinessCheck struct {
	Name     string
	Critical bool
	Check    func(ctx context.Context) error
}

// Options are what the transport needs from the node.
type Options struct {
	Logger         *slog.Logger
	Tracer         trace.TracerProvider
	Metrics        http.Handler // served at /metrics when not nil
	Checks         []ReadinessCheck
	RequestTimeout time.Duration
	MaxBodyBytes   int
	// Draining reports that the node is shutting down: /readyz answers 503 from then on.
	Draining func() bool
	// Pprof is served at /debug/pprof/ when not nil.
	Pprof http.Handler
	// Stop asks the node to drain and stop (POST /v1/ops/drain); it must not wait for the stop.
	Stop func()
	// Members reports the cluster members in this node's view, shown by /readyz (nil: not shown).
	Members func() int

	// Auth is the accounts service (register, login, tokens, MPIN, lockouts, audit).
	Auth *auth.Service
	// Engine is the door to the session and profile actors.
	Engine *actors.Engine
	// HTTP and Limits are the node's configuration of origins, proxies, frame, rate and queue limits.
	HTTP   config.HTTP
	Limits config.Limits
	// KeyHashKey keys the hash that turns a client's key codes into opaque numbers before they leave the
	// transport; every node of a cluster must use the same key, so equal codes stay equal across nodes.
	KeyHashKey []byte
	// Web serves the demo page and the SDK at / (nil: not served).
	Web http.Handler
}

// Server routes every HTTP path of the node.
type Server struct {
	opts Options
	mux  *http.ServeMux
}

// New builds the router.
func New(opts Options) *Server {
	s := &Server{opts: opts, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if opts.Metrics != nil {
		s.mux.Handle("GET /metrics", opts.Metrics)
	}
	if opts.Pprof != nil {
		s.mux.Handle("GET /debug/pprof/", opts.Pprof)
	}
	if opts.Web != nil {
		s.mux.Handle("GET /", opts.Web)
	}
	if opts.Auth != nil && opts.Engine != nil {
		s.restRoutes()
		s.wsRoutes()
	}
	return s
}

// Handle registers another handler on the node's router (the REST API, the WebSocket endpoint, the web files).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler is the root handler, traced with OpenTelemetry.
func (s *Server) Handler() http.Handler {
	return otelhttp.NewHandler(s.mux, "http",
		otelhttp.WithTracerProvider(s.opts.Tracer),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.Pattern != "" {
				return r.Pattern // "POST /v1/auth/login": the route, never the ids in the path
			}
			return r.Method
		}),
		otelhttp.WithFilter(func(r *http.Request) bool {
			return r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && r.URL.Path != "/metrics"
		}))
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status, code := "ready", http.StatusOK
	checks := make(map[string]string, len(s.opts.Checks))
	for _, c := range s.opts.Checks {
		if err := c.Check(ctx); err != nil {
			checks[c.Name] = "failing"
			s.opts.Logger.WarnContext(ctx, "readiness check failing", "check", c.Name, "err", err)
			if c.Critical {
				status, code = "unavailable", http.StatusServiceUnavailable
			} else if code == http.StatusOK {
				status = "degraded"
			}
			continue
		}
		checks[c.Name] = "ok"
	}
	if s.opts.Draining != nil && s.opts.Draining() {
		status, code = "draining", http.StatusServiceUnavailable
	}
	body := map[string]any{"status": status, "checks": checks}
	if s.opts.Members != nil {
		body["members"] = s.opts.Members()
	}
	writeJSON(w, code, body)
}
