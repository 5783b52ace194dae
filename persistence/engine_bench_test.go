package persistence_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

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
// snapshot per session. ns/decision is the flush's time divided by its decisions; pg-us/flush is the CPU the
// database's backends spent per flush (from /proc, so only when Postgres runs on this machine).
func BenchmarkWrite(b *testing.B) {
	db := engNewDB(b)
	ctx := engCtx(b)
	s := persistence.NewSessions(db.pool)
	const sessions, perSession = 32, 20
	var ids []string
	for range sessions {
		ids = append(ids, db.addSession(b, time.Hour))
	}
	// Distinct vectors, as real samples give (identical ones would flatter any compression of stored rows).
	rng := rand.New(rand.NewPCG(1, 2))
	vecs := make([][]float32, 1024)
	for i := range vecs {
		vecs[i] = make([]float32, 28)
		for j := range vecs[i] {
			vecs[i][j] = rng.Float32() * 0.3
		}
	}
	// Shared by the sub-benchmarks so that every flush carries new decisions and newer snapshots.
	var seq, version int64
	for _, snapshots := range []bool{false, true} {
		b.Run(fmt.Sprintf("decisions=%d/snapshots=%v", sessions*perSession, snapshots), func(b *testing.B) {
			b.ReportAllocs()
			cpu0, cpuOK := engBackendCPU(b, db.pool)
			for b.Loop() {
				var w persistence.WriteBatch
				for range perSession {
					seq++
					for k, id := range ids {
						d := engDecision(id, seq+1)
						d.VectorKey, d.Vector = "kf:payee", vecs[(int(seq)*sessions+k)%len(vecs)]
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
			if cpu1, ok := engBackendCPU(b, db.pool); ok && cpuOK {
				b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "pg-us/flush")
			}
		})
	}
}

// engBackendCPU returns the CPU time (user and system) spent so far by the backends connected to pool's database,
// read from /proc; false when they cannot be read (Postgres on another machine or user).
func engBackendCPU(b *testing.B, pool *pgxpool.Pool) (time.Duration, bool) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := pool.Query(ctx, `select pid from pg_stat_activity where datname = current_database()`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var total time.Duration
	for rows.Next() {
		var pid int32
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, false
		}
		// Fields after the command's closing parenthesis: utime and stime are the 12th and 13th, in clock ticks
		// (100 per second on Linux).
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) < 13 {
			return 0, false
		}
		u, err1 := strconv.ParseInt(f[11], 10, 64)
		s, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		total += time.Duration(u+s) * 10 * time.Millisecond
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return total, true
}
