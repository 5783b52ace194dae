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

// BenchmarkWrite measures one write-behind flush (decisions, their sample vectors and one snapshot per session)
// by batch size, against the real Postgres.
func BenchmarkWrite(b *testing.B) {
	db := engNewDB(b)
	ctx := engCtx(b)
	s := persistence.NewSessions(db.pool)
	const sessions = 8
	var ids []string
	for range sessions {
		ids = append(ids, db.addSession(b, time.Hour))
	}
	vec := make([]float32, 32)
	// Shared by the sizes so that every flush carries new decisions and newer snapshots.
	var seq, version int64
	for _, size := range []int{16, 256} {
		b.Run(fmt.Sprintf("decisions=%d", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var w persistence.WriteBatch
				version++
				for i := range size {
					id := ids[i%sessions]
					if i%sessions == 0 {
						seq++
					}
					d := engDecision(id, seq+1)
					w.Decisions = append(w.Decisions, d)
					w.Vectors = append(w.Vectors, persistence.SampleVector{SessionID: id, Seq: d.Seq,
						Key: "kf:payee", Vector: vec, At: d.At})
				}
				for _, id := range ids {
					w.Snapshots = append(w.Snapshots, persistence.Snapshot{SessionID: id, Version: version,
						State: "active", Data: make([]byte, 2048)})
				}
				if _, err := s.Write(ctx, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
