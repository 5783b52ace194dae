package actors

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/behaviorauth/engine/actors/enginepb"
)

// engineMetrics are the engine's OpenTelemetry instruments (exported in Prometheus form at /metrics).
type engineMetrics struct {
	latency metric.Float64Histogram
}

func newEngineMetrics(mp metric.MeterProvider, e *Engine) (*engineMetrics, error) {
	m := mp.Meter("github.com/behaviorauth/engine/actors")
	var em engineMetrics
	var err error
	// Decisions are counted by the engine's own counters and read at collection: an instrument's Add per
	// decision (an attribute-set lookup and a lock) cost more than the rest of its bookkeeping.
	var sets [len(actionNames)][len(modes)]attribute.Set
	for a, action := range actionNames {
		for md, mode := range modes {
			sets[a][md] = attribute.NewSet(attribute.String("action", action), attribute.String("mode", mode))
		}
	}
	if _, err = m.Int64ObservableCounter("behavior_decisions", metric.WithDescription("Decisions sent, by action and mode."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			for a := range actionNames {
				for md := range modes {
					if n := e.stats.byActionMode[a][md].Load(); n > 0 {
						o.Observe(n, metric.WithAttributeSet(sets[a][md]))
					}
				}
			}
			return nil
		})); err != nil {
		return nil, err
	}
	if em.latency, err = m.Float64Histogram("behavior_decision_latency_seconds",
		metric.WithDescription("From the frame that completed a sample to its decision."),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)); err != nil {
		return nil, err
	}
	if _, err = m.Int64ObservableGauge("behavior_live_sessions", metric.WithDescription("Live sessions on this node."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(e.registry.len()))
			return nil
		})); err != nil {
		return nil, err
	}
	if _, err = m.Int64ObservableGauge("behavior_writebehind_pending", metric.WithDescription("Decisions waiting to be written to Postgres."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(e.writer.Pending()))
			return nil
		})); err != nil {
		return nil, err
	}
	return &em, nil
}

// decision records a decision's latency (its count is in the engine's counters, see behavior_decisions).
func (m *engineMetrics) decision(d *enginepb.Decision) {
	if d.LatencyUs > 0 {
		m.latency.Record(context.Background(), float64(d.LatencyUs)/1e6)
	}
}
