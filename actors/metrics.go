package actors

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/behaviorauth/engine/actors/enginepb"
)

// engineMetrics are the engine's OpenTelemetry instruments (exported in Prometheus form at /metrics).
type engineMetrics struct {
	decisions metric.Int64Counter
	latency   metric.Float64Histogram
	attrs     map[[2]string]metric.MeasurementOption // (action, mode) -> attributes, built once
}

func newEngineMetrics(mp metric.MeterProvider, e *Engine) (*engineMetrics, error) {
	m := mp.Meter("github.com/behaviorauth/engine/actors")
	var em engineMetrics
	var err error
	if em.decisions, err = m.Int64Counter("behavior_decisions", metric.WithDescription("Decisions sent, by action and mode.")); err != nil {
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
	em.attrs = make(map[[2]string]metric.MeasurementOption)
	for _, a := range []string{ActionAllow, ActionChallenge, ActionBlock} {
		for _, md := range []string{ModeEnrolling, ModeScoring, ModeDegraded, ""} {
			em.attrs[[2]string{a, md}] = metric.WithAttributeSet(attribute.NewSet(attribute.String("action", a), attribute.String("mode", md)))
		}
	}
	return &em, nil
}

func (m *engineMetrics) decision(d *enginepb.Decision) {
	opt, ok := m.attrs[[2]string{d.Action, d.Mode}]
	if !ok {
		opt = metric.WithAttributes(attribute.String("action", d.Action), attribute.String("mode", d.Mode))
	}
	ctx := context.Background()
	m.decisions.Add(ctx, 1, opt)
	if d.LatencyUs > 0 {
		m.latency.Record(ctx, float64(d.LatencyUs)/1e6)
	}
}
