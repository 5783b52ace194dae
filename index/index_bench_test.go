package index

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkSearchInto measures one k=5 query against per-user sized indexes:
// the engine's hot path (one SearchInto per behavioral sample).
func BenchmarkSearchInto(b *testing.B) {
	for _, c := range []kindCase{kindCases[0], kindCases[2]} { // flat/L2, idmap/L2
		for _, n := range []int{100, 400, 1000} {
			for _, dim := range []int{16, 31, 64} {
				b.Run(fmt.Sprintf("%s/n=%d/dim=%d", c.kind, n, dim), func(b *testing.B) {
					r := rand.New(rand.NewPCG(20, uint64(n*dim)))
					x := newFor(b, c, dim)
					fill(b, x, r, n)
					const nq = 64
					queries := randVecs(r, nq, dim)
					dist, labels := make([]float32, 5), make([]int64, 5)
					b.ReportAllocs()
					b.ResetTimer()
					i := 0
					for b.Loop() {
						q := queries[(i%nq)*dim : (i%nq+1)*dim]
						if err := x.SearchInto(q, 5, dist, labels); err != nil {
							b.Fatal(err)
						}
						i++
					}
				})
			}
		}
	}
}

// BenchmarkSearchHNSW is the same query on HNSW, for comparison with flat.
func BenchmarkSearchHNSW(b *testing.B) {
	for _, n := range []int{100, 400, 1000} {
		for _, dim := range []int{16, 31, 64} {
			b.Run(fmt.Sprintf("n=%d/dim=%d", n, dim), func(b *testing.B) {
				r := rand.New(rand.NewPCG(21, uint64(n*dim)))
				x := newFor(b, kindCases[4], dim)
				fill(b, x, r, n)
				q := randVecs(r, 1, dim)
				dist, labels := make([]float32, 5), make([]int64, 5)
				b.ReportAllocs()
				for b.Loop() {
					if err := x.SearchInto(q, 5, dist, labels); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSearchBatch measures Search (which allocates its results) on 32
// queries at once, FAISS's BLAS path.
func BenchmarkSearchBatch(b *testing.B) {
	for _, c := range []kindCase{kindCases[0], kindCases[2]} {
		for _, n := range []int{100, 1000} {
			const dim = 31
			b.Run(fmt.Sprintf("%s/n=%d/dim=%d/q=32", c.kind, n, dim), func(b *testing.B) {
				r := rand.New(rand.NewPCG(22, uint64(n)))
				x := newFor(b, c, dim)
				fill(b, x, r, n)
				queries := randVecs(r, 32, dim)
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := x.Search(queries, 5); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSerialize measures the round trip through bytes (as stored in
// Postgres) of a 400-vector index of dimension 31.
func BenchmarkSerialize(b *testing.B) {
	for _, c := range []kindCase{kindCases[0], kindCases[2], kindCases[4]} {
		b.Run(c.kind.String(), func(b *testing.B) {
			x := newFor(b, c, 31)
			fill(b, x, rand.New(rand.NewPCG(23, 0)), 400)
			b.ReportAllocs()
			for b.Loop() {
				buf, err := x.Serialize()
				if err != nil {
					b.Fatal(err)
				}
				y, err := Deserialize(buf)
				if err != nil {
					b.Fatal(err)
				}
				y.Close()
			}
		})
	}
}
