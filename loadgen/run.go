package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	// StepUpDelay is how long a simulated user takes to answer a step-up (to type the MPIN once the app asks);
	// the session streams on, challenged, meanwhile. Zero answers at once.
	StepUpDelay time.Duration
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
	// ClientCPUSeconds is the CPU time (user + system) the load generator itself spent while streaming: on a
	// machine shared with what it measures, its own cost per frame is part of the picture.
	ClientCPUSeconds float64 `json:"client_cpu_seconds"`
	// StepUps counts challenges answered with the user's MPIN (the session went back to active).
	StepUps int64 `json:"step_ups"`
	// SessionsReopened counts sessions the server blocked or ended that the user replaced by logging in again.
	SessionsReopened int64 `json:"sessions_reopened"`
	// ErrorKinds counts the errors by what failed: "dial" or "dial <status>", "login", "step-up <status>" or
	// "step-up" (no answer), "error frame <code>".
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
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
	frames, events, decisions, errors, reconnects, stepUps, reopened atomic.Int64

	mu    sync.Mutex
	kinds map[string]int64
}

// fail counts an error of kind.
func (c *counters) fail(kind string) {
	c.errors.Add(1)
	c.mu.Lock()
	if c.kinds == nil {
		c.kinds = make(map[string]int64)
	}
	c.kinds[kind]++
	c.mu.Unlock()
}

// Run sets up the users, streams traffic for the duration and returns the figures.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	setupStart := time.Now()
	cl := newClient(cfg.BaseURL)
	sessions, err := setup(ctx, cfg, cl)
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
	cpu0 := processCPU()
	start := time.Now()
	for i, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat[i] = stream(runCtx, cfg, cl, userOf(cfg.Prefix, i), s, uint64(i+1), interval, &c)
		}()
	}
	stopProgress := progress(cfg.Progress, &c, start)
	wg.Wait()
	stopProgress()
	el := time.Since(start).Seconds()
	res.ClientCPUSeconds = (processCPU() - cpu0).Seconds()

	all := slices.Concat(lat...)
	slices.Sort(all)
	res.Seconds = el
	res.Frames, res.Events, res.Decisions = c.frames.Load(), c.events.Load(), c.decisions.Load()
	res.Errors, res.Reconnects = c.errors.Load(), c.reconnects.Load()
	res.StepUps, res.SessionsReopened = c.stepUps.Load(), c.reopened.Load()
	c.mu.Lock()
	res.ErrorKinds = maps.Clone(c.kinds)
	c.mu.Unlock()
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
func setup(ctx context.Context, cfg Config, cl *client) ([]session, error) {
	out := make([]session, cfg.Users)
	if cfg.Echo {
		return out, nil
	}
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
			u := userOf(cfg.Prefix, i)
			s, err := cl.openSession(sctx, u.phone, u.password, u.mpin)
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

// Bounds of a stream's work besides its frames.
const (
	// stepUpTimeout bounds one step-up answer.
	stepUpTimeout = 5 * time.Second
	// stepUpBackoffMin and stepUpBackoffMax bound the pause after a failed step-up: once challenged, every
	// decision asks again, and a node that refuses answers (rate limits) must not get one per decision.
	stepUpBackoffMin = 100 * time.Millisecond
	stepUpBackoffMax = 2 * time.Second
	// reopenTimeout bounds one login and MPIN verify of a replacement session.
	reopenTimeout = 10 * time.Second
	// reopenBackoffMin and reopenBackoffMax bound the wait before a replacement session: a node that refuses
	// logins, or blocks every new session at once, is not hammered.
	reopenBackoffMin = 100 * time.Millisecond
	reopenBackoffMax = 2 * time.Second
	// redialWait is the pause after a dial that failed for the network.
	redialWait = 100 * time.Millisecond
)

// connEnd says why a connection's run ended.
type connEnd int

const (
	endCtx     connEnd = iota // the run is over
	endBroken                 // the network: dial again with the same session
	endSession                // the server blocked or ended the session, or revoked its token: log in again
)

// stream runs one user's connection until ctx ends and returns its decision latencies in microseconds.
//
// The connection's reader handles every answer on its own goroutine (and, in the closed loop, sends the next
// frame itself when an ack opens the window): a node answers each frame with an ack and its decisions, and a
// hand-off to another goroutine per answer would make the load generator, which shares the machine with what it
// measures, cost several times more per frame against the node than against the echo server. Only the rare
// step-up goes to a goroutine of its own, so that the reader keeps reading while the MPIN is checked.
//
// When the server blocks or ends the session, the user logs in again and streams on a new session, as a real
// app would; a connection lost to the network is dialed again with the same session.
func stream(ctx context.Context, cfg Config, cl *client, u user, s session, seed uint64, interval time.Duration, c *counters) []float64 {
	st := &streamState{
		cfg: cfg, c: c, cl: cl, user: u, sess: s, ty: newTypist(seed, uint64(time.Now().UnixNano())),
		sentAt: make(map[int64]time.Time, cfg.Window*2), frames: make(map[int64][]byte, cfg.Window*2),
		openedAt: time.Now(),
	}
	defer st.stepUps.Wait()
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, WriteBufferSize: 8 << 10, ReadBufferSize: 4 << 10}
	gone := false
	backoff := reopenBackoffMin
	for ctx.Err() == nil {
		if gone {
			if !sleepCtx(ctx, backoff) {
				break
			}
			backoff = min(2*backoff, reopenBackoffMax)
			if !st.reopen(ctx) {
				continue
			}
			gone = false
		}
		hdr := http.Header{}
		if st.sess.SessionToken != "" {
			hdr.Set("Authorization", "Bearer "+st.sess.SessionToken)
		}
		conn, resp, err := dialer.DialContext(ctx, wsURL(cfg.BaseURL, st.sess.SessionID, cfg.Echo), hdr)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if resp != nil {
				c.fail("dial " + strconv.Itoa(resp.StatusCode))
			} else {
				c.fail("dial")
			}
			// A refusal of the session itself (its token revoked, the session over) will not change by dialing
			// again; too many requests will, after a pause.
			if !cfg.Echo && resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500 &&
				resp.StatusCode != http.StatusTooManyRequests {
				gone = true
				continue
			}
			sleepCtx(ctx, redialWait)
			continue
		}
		end := st.run(ctx, conn, interval)
		if ctx.Err() != nil {
			// A write or read cut short by the run's end is not a broken connection.
			break
		}
		switch end {
		case endBroken:
			c.reconnects.Add(1)
		case endSession:
			if cfg.Echo {
				c.reconnects.Add(1)
				continue
			}
			// A session that lasted was a good one: its replacement need not wait long. One that the node ended at
			// once (blocking every new session, say) lets the wait grow, so logins are not hammered.
			if time.Since(st.openedAt) >= reopenBackoffMax {
				backoff = reopenBackoffMin
			}
			gone = true
		}
	}
	return st.lat
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// streamState is one user's stream, kept across reconnects.
type streamState struct {
	cfg  Config
	c    *counters
	cl   *client
	user user
	ty   *typist
	// openedAt is when the current session was opened (the stream's goroutine only).
	openedAt time.Time

	// stepping is set while a step-up is in flight (at most one per stream); stepUps waits for it.
	stepping atomic.Bool
	stepUps  sync.WaitGroup
	// stepUpNotBefore (unix nanoseconds) holds the next step-up back after a failure; stepUpBackoff is the
	// pause after the next failure, owned by whichever step-up holds stepping.
	stepUpNotBefore atomic.Int64
	stepUpBackoff   time.Duration

	mu     sync.Mutex // the reader and, when paced, the sender
	sess   session
	conn   *websocket.Conn
	seq    int64
	acked  int64
	sentAt map[int64]time.Time
	frames map[int64][]byte // sent, not yet acknowledged: sent again after a reconnect
	buf    []byte
	lat    []float64
}

// reopen logs the user in again and opens a new session; the frames of the old one are dropped, and the new
// one counts seq from 1. False (counted as an error) when the node refused.
func (st *streamState) reopen(ctx context.Context) bool {
	octx, cancel := context.WithTimeout(ctx, reopenTimeout)
	defer cancel()
	s, err := st.cl.openSession(octx, st.user.phone, st.user.password, st.user.mpin)
	if err != nil {
		if ctx.Err() == nil {
			st.c.fail("login")
		}
		return false
	}
	st.openedAt = time.Now()
	st.mu.Lock()
	st.sess = s
	st.seq, st.acked = 0, 0
	clear(st.sentAt)
	clear(st.frames)
	st.mu.Unlock()
	st.c.reopened.Add(1)
	return true
}

// stepUp answers a challenge of session s with the user's MPIN on a goroutine of its own, unless one is already
// in flight or the last one failed a moment before at.
func (st *streamState) stepUp(ctx context.Context, s session, at time.Time) {
	if at.UnixNano() < st.stepUpNotBefore.Load() || !st.stepping.CompareAndSwap(false, true) {
		return
	}
	st.stepUps.Add(1)
	go func() {
		defer st.stepUps.Done()
		defer st.stepping.Store(false)
		if d := st.cfg.StepUpDelay; d > 0 && !sleepCtx(ctx, d) {
			return
		}
		sctx, cancel := context.WithTimeout(ctx, stepUpTimeout)
		defer cancel()
		err := st.cl.answerChallenge(sctx, s, st.user.mpin)
		var ae *APIError
		refused := errors.As(err, &ae)
		switch {
		case err == nil:
			st.c.stepUps.Add(1)
			st.stepUpBackoff = 0
		case ctx.Err() != nil:
			// The run ended under it.
		case refused && (ae.Status == http.StatusConflict || ae.Status == http.StatusUnauthorized):
			// Nothing pending any more: a challenge decision read after the previous answer had already
			// returned the session to active, or the session is over (its close code says so; a block revokes
			// the login, so an answer racing it is refused as unauthorized). A login refused for good shows as
			// the stream's own close and the next dial's refusal.
		default:
			if refused {
				st.c.fail("step-up " + strconv.Itoa(ae.Status))
			} else {
				st.c.fail("step-up")
			}
			st.stepUpBackoff = min(max(2*st.stepUpBackoff, stepUpBackoffMin), stepUpBackoffMax)
			wait := st.stepUpBackoff
			if refused && ae.RetryAfter > wait {
				wait = ae.RetryAfter
			}
			st.stepUpNotBefore.Store(time.Now().Add(wait).UnixNano())
		}
	}()
}

// run streams on conn until the network breaks it, the server ends the session, or ctx ends.
func (st *streamState) run(ctx context.Context, conn *websocket.Conn, interval time.Duration) connEnd {
	stop := context.AfterFunc(ctx, func() {
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = conn.Close()
	})
	defer stop()
	defer conn.Close()

	st.mu.Lock()
	st.conn = conn
	sess := st.sess
	// The frames not yet acknowledged go again, in order: the server applies each seq once.
	ok := true
	for q := st.acked + 1; q <= st.seq && ok; q++ {
		if f, has := st.frames[q]; has {
			ok = conn.WriteMessage(websocket.TextMessage, f) == nil
		}
	}
	if ok && interval == 0 {
		ok = st.fillLocked()
	}
	st.mu.Unlock()
	if !ok {
		return endBroken
	}

	senderDone := make(chan struct{})
	if interval > 0 {
		stopSender := make(chan struct{})
		defer func() { close(stopSender); <-senderDone }()
		go func() {
			defer close(senderDone)
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case <-stopSender:
					return
				case <-t.C:
					st.mu.Lock()
					ok := st.seq-st.acked >= int64(st.cfg.Window) || st.sendLocked()
					st.mu.Unlock()
					if !ok {
						_ = conn.Close()
						return
					}
				}
			}
		}()
	}

	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return endCtx
			case websocket.IsCloseError(err, closeTokenRevoked, closeBlocked, closeEnded):
				return endSession
			}
			return endBroken
		}
		at := time.Now()
		kind, q := replyKind(b)
		switch {
		case kind == "decision" && !st.cfg.Echo && isChallenge(b):
			st.stepUp(ctx, sess, at)
		case kind == "error":
			st.c.fail("error frame " + field(b, `"code":"`, '"'))
		}
		st.mu.Lock()
		ok := st.answerLocked(kind, q, at, interval == 0)
		st.mu.Unlock()
		if !ok {
			return endBroken
		}
	}
}

// Close codes of PROTOCOL.md after which the session's token cannot stream again.
const (
	closeTokenRevoked = 4001
	closeBlocked      = 4003
	closeEnded        = 4004
)

// answerLocked takes one answer; in the closed loop an ack sends the next frames. False: the connection broke.
func (st *streamState) answerLocked(kind string, q int64, at time.Time, closedLoop bool) bool {
	echo := st.cfg.Echo && kind == "events"
	switch {
	case kind == "ack" || echo:
		if q > st.acked {
			for k := st.acked + 1; k <= q; k++ {
				delete(st.frames, k)
			}
			st.acked = q
		}
		if echo {
			st.decisionLocked(q, at)
		}
		if closedLoop {
			return st.fillLocked()
		}
	case kind == "decision":
		st.decisionLocked(q, at)
	}
	return true
}

// decisionLocked records the latency from frame q to its first decision.
func (st *streamState) decisionLocked(q int64, at time.Time) {
	if t0, ok := st.sentAt[q]; ok {
		st.lat = append(st.lat, float64(at.Sub(t0).Microseconds()))
		delete(st.sentAt, q)
	}
	st.c.decisions.Add(1)
}

// fillLocked sends frames until the window is full.
func (st *streamState) fillLocked() bool {
	for st.seq-st.acked < int64(st.cfg.Window) {
		if !st.sendLocked() {
			return false
		}
	}
	return true
}

// sendLocked sends the next frame.
func (st *streamState) sendLocked() bool {
	st.seq++
	st.buf = st.ty.appendFrame(st.buf[:0], st.seq)
	f := append([]byte(nil), st.buf...)
	st.frames[st.seq] = f
	st.sentAt[st.seq] = time.Now()
	if err := st.conn.WriteMessage(websocket.TextMessage, f); err != nil {
		return false
	}
	st.c.frames.Add(1)
	st.c.events.Add(EventsPerFrame)
	return true
}

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
				fmt.Fprintf(w, "\r%5.0fs  %8d events/s  %7d decisions/s  errors %d  reconnects %d  step-ups %d  reopened %d   ",
					time.Since(start).Seconds(), e-lastE, d-lastD, c.errors.Load(), c.reconnects.Load(),
					c.stepUps.Load(), c.reopened.Load())
				lastE, lastD = e, d
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// processCPU returns the CPU time this process has used (user + system); zero where the system cannot say.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
