package transport_test

import (
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/behaviorauth/engine/config"
)

// BenchmarkLoginAndMPINVerify measures what a user waits for to open a behavioral session: POST /v1/auth/login
// then POST /v1/auth/mpin/verify, by 20 concurrent clients over real HTTP against a real node, with the DEFAULT
// argon2id parameters of config.Default() (nodetest's cheap test parameters are put back). Only the auth rate
// limits are lifted, so that every request is served. It reports the pair's p50 and p99 in milliseconds, and the
// same for each step.
//
//	go test ./transport -run '^$' -bench BenchmarkLoginAndMPINVerify -benchtime 200x
func BenchmarkLoginAndMPINVerify(b *testing.B) {
	const clients = 20
	def := config.Default().Auth
	_, a := startNode(b, func(c *config.Config) {
		c.Auth.Argon2Time = def.Argon2Time
		c.Auth.Argon2MemoryKiB = def.Argon2MemoryKiB
		c.Auth.Argon2Threads = def.Argon2Threads
		generous(c)
	})
	users := make([]user, clients)
	for i := range users {
		users[i] = a.register(b)
	}

	var (
		next                    atomic.Int64
		mu                      sync.Mutex
		pair, login, verify     []float64
		wg                      sync.WaitGroup
		failed                  atomic.Value
		ms                      = func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		loginBody, verifyBodies = make([]map[string]string, clients), make([]map[string]string, clients)
	)
	for i, u := range users {
		loginBody[i] = map[string]string{"phone": u.Phone, "password": u.Password}
		verifyBodies[i] = map[string]string{"mpin": u.MPIN}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				r := a.post("/v1/auth/login", "", loginBody[c])
				t1 := time.Now()
				if r.Status != http.StatusOK {
					failed.Store(r)
					return
				}
				var tok tokens
				r.decode(b, http.StatusOK, &tok)
				r = a.post("/v1/auth/mpin/verify", tok.AccessToken, verifyBodies[c])
				t2 := time.Now()
				if r.Status != http.StatusCreated {
					failed.Store(r)
					return
				}
				mu.Lock()
				pair = append(pair, ms(t2.Sub(t0)))
				login = append(login, ms(t1.Sub(t0)))
				verify = append(verify, ms(t2.Sub(t1)))
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	b.StopTimer()
	if r, ok := failed.Load().(reply); ok {
		b.Fatalf("request failed: %d %s", r.Status, r.Body)
	}
	b.ReportMetric(pct(pair, 0.50), "p50-ms")
	b.ReportMetric(pct(pair, 0.99), "p99-ms")
	b.ReportMetric(pct(login, 0.50), "login-p50-ms")
	b.ReportMetric(pct(login, 0.99), "login-p99-ms")
	b.ReportMetric(pct(verify, 0.50), "verify-p50-ms")
	b.ReportMetric(pct(verify, 0.99), "verify-p99-ms")
}

// pct is the nearest-rank percentile p of xs (sorted in place).
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	i := int(p*float64(len(xs))+0.999999) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}
