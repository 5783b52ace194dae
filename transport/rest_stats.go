package transport

import (
	"context"
	"math"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/behaviorauth/engine/actors"
)

// GET /v1/stats computes what the engine exposes today: its list of live sessions (Engine.LiveSessions) and each
// live session's last decisions (Engine.Status). Node-wide decision counters, a latency histogram and index
// sizes are not exported by the engine; they are at /metrics (behavior_decisions, behavior_decision_latency_seconds)
// and the figures here are documented as what they are (openapi.yaml, StatsResponse).
const (
	// statsMaxSessions bounds the live sessions whose last decisions one stats call reads (the newest).
	statsMaxSessions = 64
	// statsParallel bounds the status requests in flight for one stats call.
	statsParallel = 4
	// minRateWindow: stats calls closer together than this share the previous rates (a short window is noise).
	minRateWindow = time.Second
	// maxRateWindow: a previous call older than this is too stale to difference against.
	maxRateWindow = 5 * time.Minute
)

// Rate bases of events_per_second and samples_per_second.
const (
	rateSincePrevious   = "since_previous_call"
	rateSessionLifetime = "session_lifetime"
)

type latencyJSON struct {
	Count int   `json:"count"`
	P50   int64 `json:"p50"`
	P90   int64 `json:"p90"`
	P99   int64 `json:"p99"`
	Max   int64 `json:"max"`
}

type decisionsSampleJSON struct {
	Sessions    int `json:"sessions"`
	PerSession  int `json:"per_session"`
	Unreachable int `json:"unreachable"`
}

type nodeStatsJSON struct {
	Node              string              `json:"node"`
	LiveSessions      int                 `json:"live_sessions"`
	SessionsByState   map[string]int      `json:"sessions_by_state"`
	Events            int64               `json:"events"`
	Samples           int64               `json:"samples"`
	EventsPerSecond   float64             `json:"events_per_second"`
	SamplesPerSecond  float64             `json:"samples_per_second"`
	RateBasis         string              `json:"rate_basis"`
	RateWindowS       float64             `json:"rate_window_s"`
	DecisionsByAction map[string]int      `json:"decisions_by_action"`
	LatencyUs         latencyJSON         `json:"latency_us"`
	DecisionsSampled  decisionsSampleJSON `json:"decisions_sampled"`
}

type statsResponse struct {
	At                string          `json:"at"`
	LiveSessions      int             `json:"live_sessions"`
	EventsPerSecond   float64         `json:"events_per_second"`
	SamplesPerSecond  float64         `json:"samples_per_second"`
	DecisionsByAction map[string]int  `json:"decisions_by_action"`
	LatencyUs         latencyJSON     `json:"latency_us"`
	Nodes             []nodeStatsJSON `json:"nodes"`
}

// statsTracker remembers the live sessions' counters at the previous stats call, to turn them into rates.
type statsTracker struct {
	mu     sync.Mutex
	at     time.Time
	counts map[string][2]int64 // session id -> events, samples
	eps    float64
	sps    float64
	basis  string
	window float64
}

func newStatsTracker() *statsTracker { return &statsTracker{} }

// rates answers the events and samples per second of the live sessions. Between two calls at least
// minRateWindow apart it is the growth of their counters over the interval (a session that appeared meanwhile
// contributes its counts prorated to the part of its life inside the interval; one that ended meanwhile is
// missed). On the first call, or after maxRateWindow without one, it is the sum of each session's average rate
// over its life so far.
func (t *statsTracker) rates(now time.Time, live []actors.LiveSession) (eps, sps float64, basis string, window float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.at.IsZero() && now.Sub(t.at) < minRateWindow {
		return t.eps, t.sps, t.basis, t.window
	}
	fresh := t.at.IsZero() || now.Sub(t.at) > maxRateWindow
	win := now.Sub(t.at).Seconds()
	cur := make(map[string][2]int64, len(live))
	var ev, sm float64
	for _, ls := range live {
		cur[ls.SessionID] = [2]int64{ls.Events, ls.Samples}
		age := math.Max(now.Sub(ls.StartedAt).Seconds(), 1e-3)
		if fresh {
			age = math.Max(age, 1)
			ev += float64(ls.Events) / age
			sm += float64(ls.Samples) / age
			continue
		}
		if p, ok := t.counts[ls.SessionID]; ok {
			ev += float64(max(0, ls.Events-p[0]))
			sm += float64(max(0, ls.Samples-p[1]))
			continue
		}
		f := math.Min(1, win/age)
		ev += float64(ls.Events) * f
		sm += float64(ls.Samples) * f
	}
	if fresh {
		t.basis, t.window = rateSessionLifetime, 0
	} else {
		ev, sm = ev/win, sm/win
		t.basis, t.window = rateSincePrevious, math.Round(win*1000)/1000
	}
	t.at, t.counts, t.eps, t.sps = now, cur, ev, sm
	return t.eps, t.sps, t.basis, t.window
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request, tr *statsTracker) {
	if _, err := s.authenticate(r.Context(), r, credOperator); err != nil {
		s.fail(w, r, err)
		return
	}
	now := time.Now()
	live := s.opts.Engine.LiveSessions()
	ns := nodeStatsJSON{
		Node: nodeName(r, live), LiveSessions: len(live), SessionsByState: map[string]int{
			actors.StateActive: 0, actors.StateChallenged: 0, actors.StateBlocked: 0, actors.StateEnded: 0,
		},
	}
	for _, ls := range live {
		ns.SessionsByState[ls.State]++
		ns.Events += ls.Events
		ns.Samples += ls.Samples
	}
	ns.EventsPerSecond, ns.SamplesPerSecond, ns.RateBasis, ns.RateWindowS = tr.rates(now, live)
	ns.DecisionsByAction, ns.LatencyUs, ns.DecisionsSampled = s.recentDecisions(r.Context(), live)
	writeJSON(w, http.StatusOK, statsResponse{
		At: wireTime(now), LiveSessions: ns.LiveSessions, EventsPerSecond: ns.EventsPerSecond,
		SamplesPerSecond: ns.SamplesPerSecond, DecisionsByAction: ns.DecisionsByAction, LatencyUs: ns.LatencyUs,
		Nodes: []nodeStatsJSON{ns},
	})
}

// nodeName names this node as its sessions do (the engine's node name); with no live session it falls back to
// the listener address the request came in on, which is the node name of a node bound to one address.
func nodeName(r *http.Request, live []actors.LiveSession) string {
	for _, ls := range live {
		if ls.Node != "" {
			return ls.Node
		}
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String()
	}
	return ""
}

// recentDecisions reads the last decisions (at most maxStatusDecisions each) of the newest statsMaxSessions live
// sessions and counts them by action, with their latency percentiles.
func (s *Server) recentDecisions(ctx context.Context, live []actors.LiveSession) (map[string]int, latencyJSON, decisionsSampleJSON) {
	if len(live) > statsMaxSessions {
		live = live[:statsMaxSessions]
	}
	var (
		mu        sync.Mutex
		wg        sync.WaitGroup
		byAction  = map[string]int{actors.ActionAllow: 0, actors.ActionChallenge: 0, actors.ActionBlock: 0}
		latencies []int64
		failed    int
		sem       = make(chan struct{}, statsParallel)
	)
	for _, ls := range live {
		wg.Add(1)
		sem <- struct{}{}
		go func(id string) {
			defer func() { <-sem; wg.Done() }()
			st, err := s.opts.Engine.Status(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				return
			}
			ds := st.GetDecisions()
			if len(ds) > maxStatusDecisions {
				ds = ds[len(ds)-maxStatusDecisions:]
			}
			for _, d := range ds {
				byAction[d.GetAction()]++
				if d.GetLatencyUs() > 0 {
					latencies = append(latencies, d.GetLatencyUs())
				}
			}
		}(ls.SessionID)
	}
	wg.Wait()
	return byAction, percentiles(latencies), decisionsSampleJSON{Sessions: len(live), PerSession: maxStatusDecisions, Unreachable: failed}
}

// percentiles answers nearest-rank percentiles of xs (which it sorts).
func percentiles(xs []int64) latencyJSON {
	if len(xs) == 0 {
		return latencyJSON{}
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	rank := func(p float64) int64 {
		i := int(math.Ceil(p*float64(len(xs)))) - 1
		return xs[min(max(i, 0), len(xs)-1)]
	}
	return latencyJSON{Count: len(xs), P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), Max: xs[len(xs)-1]}
}
