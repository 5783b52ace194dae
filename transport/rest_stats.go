package transport

import (
	"net/http"
	"time"

	"github.com/behaviorauth/engine/actors"
)

// GET /v1/stats answers the node's running totals from the engine (Engine.Stats): live sessions by state,
// events and samples (totals since the node started, and per second since the previous stats call), decisions
// by action, decision-latency percentiles from a histogram of every decision, the FAISS indexes loaded, the
// write-behind backlog and whether Postgres answers. `nodes` has one entry: the node that answers.

type latencyJSON struct {
	P50 int64 `json:"p50"`
	P90 int64 `json:"p90"`
	P99 int64 `json:"p99"`
}

type nodeStatsJSON struct {
	Node              string           `json:"node"`
	LiveSessions      int              `json:"live_sessions"`
	SessionsByState   map[string]int   `json:"sessions_by_state"`
	Events            int64            `json:"events"`
	Samples           int64            `json:"samples"`
	EventsPerSecond   float64          `json:"events_per_second"`
	SamplesPerSecond  float64          `json:"samples_per_second"`
	DecisionsByAction map[string]int64 `json:"decisions_by_action"`
	DegradedDecisions int64            `json:"degraded_decisions"`
	LatencyUs         latencyJSON      `json:"latency_us"`
	Indexes           int64            `json:"indexes"`
	PendingWrites     int              `json:"pending_writes"`
	PostgresUp        bool             `json:"postgres_up"`
	UptimeS           float64          `json:"uptime_s"`
}

type statsResponse struct {
	At                string           `json:"at"`
	LiveSessions      int              `json:"live_sessions"`
	EventsPerSecond   float64          `json:"events_per_second"`
	SamplesPerSecond  float64          `json:"samples_per_second"`
	DecisionsByAction map[string]int64 `json:"decisions_by_action"`
	LatencyUs         latencyJSON      `json:"latency_us"`
	Nodes             []nodeStatsJSON  `json:"nodes"`
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authenticate(r.Context(), r, credOperator); err != nil {
		s.fail(w, r, err)
		return
	}
	st := s.opts.Engine.Stats()
	ns := nodeStatsJSON{
		Node: st.Node, LiveSessions: st.LiveSessions,
		SessionsByState: map[string]int{actors.StateActive: 0, actors.StateChallenged: 0},
		Events:          st.Events, Samples: st.Samples,
		EventsPerSecond: st.EventsPerSecond, SamplesPerSecond: st.SamplesPerSecond,
		DecisionsByAction: st.Decisions, DegradedDecisions: st.DegradedDecisions,
		LatencyUs: latencyJSON{P50: st.LatencyUS["p50"], P90: st.LatencyUS["p90"], P99: st.LatencyUS["p99"]},
		Indexes:   st.Indexes, PendingWrites: st.PendingWrites, PostgresUp: st.PostgresUp, UptimeS: st.UptimeSeconds,
	}
	for _, ls := range s.opts.Engine.LiveSessions() {
		ns.SessionsByState[ls.State]++
	}
	writeJSON(w, http.StatusOK, statsResponse{
		At: wireTime(time.Now()), LiveSessions: ns.LiveSessions, EventsPerSecond: ns.EventsPerSecond,
		SamplesPerSecond: ns.SamplesPerSecond, DecisionsByAction: ns.DecisionsByAction, LatencyUs: ns.LatencyUs,
		Nodes: []nodeStatsJSON{ns},
	})
}
