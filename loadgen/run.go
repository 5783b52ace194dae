package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Config is one load run.
type Config struct {
	// BaseURL of the node (http://127.0.0.1:8080) or of the echo server.
	BaseURL string
	// Users is the number of simulated users, one session and one WebSocket each.
	Users int
	// Duration of the measured phase.
	Duration time.Duration
	// Rate is the total frames per second to send (each frame completes one sample); 0 sends as fast as the
	// server answers (closed loop, Window frames in flight per connection).
	Rate float64
	// Window is the frames in flight per connection. Default 1.
	Window int
	// Echo targets a bare WebSocket echo server (see EchoHandler): no REST, every echoed frame counts as the
	// frame's ack and decision. It measures the machine's ceiling for the same frames.
	Echo bool
	// Prefix makes this run's phone numbers (0..99); users are created when missing.
	Prefix int
	// Setup bounds how many users are set up at once. Default 16.
	Setup int
	// Progress receives a live progress line each second (nil: none).
	Progress io.Writer
}

// Result is what a run measured.
type Result struct {
	Target        string  `json:"target"`
	Users         int     `json:"users"`
	Seconds       float64 `json:"seconds"`
	Frames        int64   `json:"frames"`
	Events        int64   `json:"events"`
	Decisions     int64   `json:"decisions"`
	Errors        int64   `json:"errors"`
	Reconnects    int64   `json:"reconnects"`
	EventsPerSec  float64 `json:"events_per_sec"`
	SamplesPerSec float64 `json:"samples_per_sec"`
	LatencyP50us  float64 `json:"latency_p50_us"`
	LatencyP99us  float64 `json:"latency_p99_us"`
	LatencyP999us float64 `json:"latency_p999_us"`
	SetupSeconds  float64 `json:"setup_seconds"`
}

func (c *Config) defaults() error {
	if c.Users <= 0 {
		return errors.New("loadgen: users must be > 0")
	}
	if c.Duration <= 0 {
		return errors.New("loadgen: duration must be > 0")
	}
	if c.Window <= 0 {
		c.Window = 1
	}
	if c.Setup <= 0 {
		c.Setup = 16
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("loadgen: base url %q: want http://host:port", c.BaseURL)
	}
	return nil
}

type counters struct {
	frames, events, decisions, errors, reconnects atomic.Int64
}

// Run sets up the users, streams traffic for the duration and returns the figures.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	setupStart := time.Now()
	sessions, err := setup(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	res := Result{Target: cfg.BaseURL, Users: cfg.Users, SetupSeconds: time.Since(setupStart).Seconds()}

	var c counters
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	lat := make([][]float64, len(sessions))
	var wg sync.WaitGroup
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(cfg.Users) / cfg.Rate)
	}
	start := time.Now()
	for i, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat[i] = stream(runCtx, cfg, s, uint64(i+1), interval, &c)
		}()
	}
	stopProgress := progress(cfg.Progress, &c, start)
	wg.Wait()
	stopProgress()
	el := time.Since(start).Seconds()

	all := slices.Concat(lat...)
	slices.Sort(all)
	res.Seconds = el
	res.Frames, res.Events, res.Decisions = c.frames.Load(), c.events.Load(), c.decisions.Load()
	res.Errors, res.Reconnects = c.errors.Load(), c.reconnects.Load()
	res.EventsPerSec = float64(res.Events) / el
	res.SamplesPerSec = float64(res.Decisions) / el
	res.LatencyP50us, res.LatencyP99us, res.LatencyP999us = pct(all, 0.5), pct(all, 0.99), pct(all, 0.999)
	return res, nil
}

func pct(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// setup opens every user's session (echo mode needs none).
func setup(ctx context.Context, cfg Config) ([]session, error) {
	out := make([]session, cfg.Users)
	if cfg.Echo {
		return out, nil
	}
	cl := newClient(cfg.BaseURL)
	sem := make(chan struct{}, cfg.Setup)
	errs := make(chan error, cfg.Users)
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			sctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			s, err := cl.openSession(sctx, phoneOf(cfg.Prefix, i), "load-test-password-"+strconv.Itoa(i), "480917")
			if err != nil {
				errs <- fmt.Errorf("user %d: %w", i, err)
				return
			}
			out[i] = s
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("loadgen: setup: %w", err)
	}
	return out, nil
}

func wsURL(base, sessionID string, echo bool) string {
	u := strings.Replace(base, "http", "ws", 1)
	if echo {
		return u + "/echo"
	}
	return u + "/v1/ws?session_id=" + url.QueryEscape(sessionID)
}

// stream runs one connection until ctx ends and returns its decision latencies in microseconds.
func stream(ctx context.Context, cfg Config, s session, seed uint64, interval time.Duration, c *counters) []float64 {
	ty := newTypist(seed, uint64(time.Now().UnixNano()))
	var (
		lat    []float64
		seq    int64
		acked  int64
		sentAt = make(map[int64]time.Time, cfg.Window*2)
		frames = make(map[int64][]byte, cfg.Window*2)
	)
	hdr := http.Header{}
	if s.SessionToken != "" {
		hdr.Set("Authorization", "Bearer "+s.SessionToken)
	}
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, WriteBufferSize: 8 << 10, ReadBufferSize: 4 << 10}
	for ctx.Err() == nil {
		conn, _, err := dialer.DialContext(ctx, wsURL(cfg.BaseURL, s.SessionID, cfg.Echo), hdr)
		if err != nil {
			if ctx.Err() == nil {
				c.errors.Add(1)
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		// The frames not yet acknowledged go again, in order: the server applies each seq once.
		for q := acked + 1; q <= seq; q++ {
			if f, ok := frames[q]; ok {
				_ = conn.WriteMessage(websocket.TextMessage, f)
			}
		}
		type reply struct {
			kind string
			seq  int64
			at   time.Time
		}
		replies := make(chan reply, 64)
		go func() {
			defer close(replies)
			for {
				_, b, err := conn.ReadMessage()
				if err != nil {
					return
				}
				kind, q := replyKind(b)
				replies <- reply{kind, q, time.Now()}
			}
		}()
		var next <-chan time.Time
		var ticker *time.Ticker
		if interval > 0 {
			ticker = time.NewTicker(interval)
			next = ticker.C
		}
		inFlight := int(seq - acked)
		var buf []byte
		broken := false
		for !broken && ctx.Err() == nil {
			canSend := inFlight < cfg.Window
			var ready <-chan time.Time
			if canSend {
				if next != nil {
					ready = next
				} else {
					ready = closedTime
				}
			}
			select {
			case <-ctx.Done():
			case <-ready:
				seq++
				buf = ty.appendFrame(buf[:0], seq)
				f := append([]byte(nil), buf...)
				frames[seq] = f
				sentAt[seq] = time.Now()
				if err := conn.WriteMessage(websocket.TextMessage, f); err != nil {
					broken = true
					break
				}
				inFlight++
				c.frames.Add(1)
				c.events.Add(EventsPerFrame)
			case r, ok := <-replies:
				if !ok {
					broken = true
					break
				}
				switch {
				case r.kind == "ack" || (cfg.Echo && r.kind == "events"):
					if r.seq > acked {
						for q := acked + 1; q <= r.seq; q++ {
							delete(frames, q)
						}
						acked = r.seq
						inFlight = int(seq - acked)
					}
					if !cfg.Echo {
						break
					}
					fallthrough
				case r.kind == "decision":
					if t0, ok := sentAt[r.seq]; ok {
						lat = append(lat, float64(r.at.Sub(t0).Microseconds()))
						delete(sentAt, r.seq)
					}
					c.decisions.Add(1)
				case r.kind == "error":
					c.errors.Add(1)
				}
			}
		}
		if ticker != nil {
			ticker.Stop()
		}
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = conn.Close()
		for range replies {
		}
		if broken && ctx.Err() == nil {
			c.reconnects.Add(1)
		}
	}
	return lat
}

var closedTime = func() <-chan time.Time {
	ch := make(chan time.Time)
	close(ch)
	return ch
}()

// progress prints a live line each second until stopped.
func progress(w io.Writer, c *counters, start time.Time) func() {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var lastE, lastD int64
		for {
			select {
			case <-done:
				fmt.Fprintln(w)
				return
			case <-t.C:
				e, d := c.events.Load(), c.decisions.Load()
				fmt.Fprintf(w, "\r%5.0fs  %8d events/s  %7d decisions/s  errors %d  reconnects %d   ",
					time.Since(start).Seconds(), e-lastE, d-lastD, c.errors.Load(), c.reconnects.Load())
				lastE, lastD = e, d
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// RSS returns the resident memory of process pid in bytes (Linux).
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("loadgen: no VmRSS")
}
