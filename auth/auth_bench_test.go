package auth

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/behaviorauth/engine/persistence"
	"github.com/behaviorauth/engine/persistence/pgtest"
)

// benchClients is the number of concurrent clients of BenchmarkLoginAndMPIN.
const benchClients = 20

// BenchmarkLoginAndMPIN measures what a user waits for between typing the password and holding a live session:
// Login, then VerifyAccess and StartSession (the mpin/verify request), with benchClients clients doing so at once
// against a real Postgres, with the DEFAULT argon2id parameters. It reports the pair's p50 and p99 latency.
// Run with enough iterations for a p99: go test ./auth -run '^$' -bench LoginAndMPIN -benchtime 400x
func BenchmarkLoginAndMPIN(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	pool, err := persistence.Open(ctx, pgtest.URL(b), persistence.PoolConfig{MaxConns: benchClients + 4})
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	cfg := Config{SigningKey: testSigningKey, Pepper: testPepper, RatePerAddress: 1 << 30, RatePerAccount: 1 << 30}
	svc, err := New(cfg, persistence.NewAccounts(pool), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	for i := range benchClients {
		_, err := svc.Register(ctx, RegisterRequest{Phone: phone(i), Password: testPassword, MPIN: testMPIN}, Client{Addr: "bench"})
		if err != nil {
			b.Fatal(err)
		}
	}

	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
		wg        sync.WaitGroup
	)
	b.ResetTimer()
	start := time.Now()
	for c := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := Client{Addr: fmt.Sprintf("10.0.0.%d", c)}
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				tok, err := svc.Login(ctx, LoginRequest{Phone: phone(c), Password: testPassword}, client)
				if err != nil {
					b.Error(err)
					return
				}
				ac, err := svc.VerifyAccess(ctx, tok.AccessToken)
				if err != nil {
					b.Error(err)
					return
				}
				if _, err := svc.StartSession(ctx, ac, testMPIN, client); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(t0)
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		i := int(p*float64(len(latencies))+0.5) - 1
		i = min(max(i, 0), len(latencies)-1)
		return float64(latencies[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "pairs/s")
}

// BenchmarkHash is the cost of one argon2id hash with the default parameters, on one core.
func BenchmarkHash(b *testing.B) {
	b.ReportAllocs()
	c := Config{}.WithDefaults()
	h := newHasher(argonParams{Time: uint32(c.Argon2Time), MemoryKiB: uint32(c.Argon2MemoryKiB), Threads: uint8(c.Argon2Threads)},
		[]byte(testPepper), 1)
	enc, err := h.Hash(context.Background(), testPassword)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := h.Verify(context.Background(), enc, testPassword); err != nil {
			b.Fatal(err)
		}
	}
}
