package persistence_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/behaviorauth/engine/persistence"
)

func BenchmarkVectorCodec(b *testing.B) {
	for _, dim := range []int{16, 128, 1024} {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(i) * 0.25
		}
		enc, err := persistence.EncodeVector(v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("encode/dim=%d", dim), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				if _, err := persistence.EncodeVector(v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("decode/dim=%d", dim), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				if _, err := persistence.DecodeVector(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWrite measures one write-behind flush against the real Postgres: 32 sessions with 20 decisions each,
// every decision carrying a 28-dimension sample vector (a fixed field's keystroke vector), with and without one
// snapshot per session. ns/decision is the flush's time divided by its decisions.
func BenchmarkWrite(b *testing.B) {
	db := engNewDB(b)
	ctx := engCtx(b)
	s := persistence.NewSessions(db.pool)
	const sessions, perSession = 32, 20
	var ids []string
	for range sessions {
		ids = append(ids, db.addSession(b, time.Hour))
	}
	vec := make([]float32, 28)
	for i := range vec {
		vec[i] = float32(i) * 0.01
	}
	// Shared by the sub-benchmarks so that every flush carries new decisions and newer snapshots.
	var seq, version int64
	for _, snapshots := range []bool{false, true} {
		b.Run(fmt.Sprintf("decisions=%d/snapshots=%v", sessions*perSession, snapshots), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var w persistence.WriteBatch
				for range perSession {
					seq++
					for _, id := range ids {
						d := engDecision(id, seq+1)
						d.VectorKey, d.Vector = "kf:payee", vec
						w.Decisions = append(w.Decisions, d)
					}
				}
				if snapshots {
					version++
					for _, id := range ids {
						w.Snapshots = append(w.Snapshots, persistence.Snapshot{SessionID: id, Version: version,
							State: "active", Data: make([]byte, 2048)})
					}
				}
				if _, err := s.Write(ctx, w); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*sessions*perSession), "ns/decision")
		})
	}
}
