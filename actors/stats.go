package actors

import (
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds (µs) of the decision-latency buckets behind Stats' percentiles.
var latencyBounds = [...]int64{50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 20000, 50000, 100000, 1 << 62}

// counters are the engine's running totals for Stats (the Prometheus view is in metrics.go).
type counters struct {
	events   atomic.Int64
	samples  atomic.Int64
	byAction [3]atomic.Int64 // allow, challenge, block
	// byActionMode counts by action (as byAction) and mode (modes below): the behavior_decisions metric.
	byActionMode [3][len(modes)]atomic.Int64
	degraded     atomic.Int64
	latency      [len(latencyBounds)]atomic.Int64
	indexes      atomic.Int64
	startedAt    time.Time
}

// actionNames are the actions in actionIndex order.
var actionNames = [...]string{ActionAllow, ActionChallenge, ActionBlock}

func actionIndex(a string) int {
	switch a {
	case ActionChallenge:
		return 1
	case ActionBlock:
		return 2
	}
	return 0
}

// modes are the decision modes counted apart ("" for a decision that has none).
var modes = [...]string{ModeEnrolling, ModeScoring, ModeDegraded, ""}

func modeIndex(m string) int {
	switch m {
	case ModeEnrolling:
		return 0
	case ModeScoring:
		return 1
	case ModeDegraded:
		return 2
	}
	return 3
}

func (c *counters) decision(action, mode string, latencyUS int64) {
	c.samples.Add(1)
	c.byAction[actionIndex(action)].Add(1)
	c.byActionMode[actionIndex(action)][modeIndex(mode)].Add(1)
	if mode == ModeDegraded {
		c.degraded.Add(1)
	}
	if latencyUS > 0 {
		for i, b := range latencyBounds {
			if latencyUS <= b {
				c.latency[i].Add(1)
				break
			}
		}
	}
}

// Stats is this node's view for GET /v1/stats.
type Stats struct {
	Node              string           `json:"node"`
	LiveSessions      int              `json:"live_sessions"`
	Events            int64            `json:"events"`
	Samples           int64            `json:"samples"`
	EventsPerSecond   float64          `json:"events_per_second"`
	SamplesPerSecond  float64          `json:"samples_per_second"`
	Decisions         map[string]int64 `json:"decisions"`
	DegradedDecisions int64            `json:"degraded_decisions"`
	LatencyUS         map[string]int64 `json:"latency_us"`
	Indexes           int64            `json:"indexes"`
	PendingWrites     int              `json:"pending_writes"`
	PostgresUp        bool             `json:"postgres_up"`
	UptimeSeconds     float64          `json:"uptime_seconds"`
}

// Stats returns the node's totals; the per-second rates are averaged since the previous call (or the start).
func (e *Engine) Stats() Stats {
	c := &e.stats
	now := time.Now()
	ev, sm := c.events.Load(), c.samples.Load()
	e.rateMu.Lock()
	dt := now.Sub(e.rateAt).Seconds()
	if e.rateAt.IsZero() {
		dt = now.Sub(c.startedAt).Seconds()
	}
	evRate, smRate := float64(ev-e.rateEvents)/max(dt, 1e-9), float64(sm-e.rateSamples)/max(dt, 1e-9)
	e.rateAt, e.rateEvents, e.rateSamples = now, ev, sm
	e.rateMu.Unlock()

	var hist [len(latencyBounds)]int64
	var total int64
	for i := range hist {
		hist[i] = c.latency[i].Load()
		total += hist[i]
	}
	pct := func(q float64) int64 {
		if total == 0 {
			return 0
		}
		target := int64(q * float64(total))
		var cum int64
		for i, n := range hist {
			cum += n
			if cum > target {
				return min(latencyBounds[i], latencyBounds[len(latencyBounds)-2])
			}
		}
		return latencyBounds[len(latencyBounds)-2]
	}
	return Stats{
		Node: e.nodeName, LiveSessions: e.registry.len(), Events: ev, Samples: sm,
		EventsPerSecond: evRate, SamplesPerSecond: smRate,
		Decisions: map[string]int64{
			ActionAllow: c.byAction[0].Load(), ActionChallenge: c.byAction[1].Load(), ActionBlock: c.byAction[2].Load(),
		},
		DegradedDecisions: c.degraded.Load(),
		LatencyUS:         map[string]int64{"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99)},
		Indexes:           c.indexes.Load(),
		PendingWrites:     e.writer.Pending(),
		PostgresUp:        e.health.PostgresUp(),
		UptimeSeconds:     now.Sub(c.startedAt).Seconds(),
	}
}
