package scoring

import (
	"fmt"
	"testing"
)

func BenchmarkScore(b *testing.B) {
	for _, size := range []struct{ keys, templates int }{{11, 50}, {11, 200}, {32, 200}} {
		b.Run(fmt.Sprintf("dim=%d/templates=%d", 3*size.keys-2, size.templates), func(b *testing.B) {
			owner := newTypist(20, size.keys)
			ts, idx := trainedSet(b, owner, Config{EnrollmentSize: size.templates}, size.templates)
			sc := NewScratch(ts.Dim(), ts.Config().K)
			samples := make([]Sample, 256)
			for i := range samples {
				samples[i] = Sample{Vec: owner.sample(), Fingerprint: testFP}
			}
			var res Result
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := ts.Score(samples[i%len(samples)], idx, sc, &res); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkTrain(b *testing.B) {
	for _, n := range []int{50, 200} {
		b.Run(fmt.Sprintf("templates=%d", n), func(b *testing.B) {
			owner := newTypist(21, 11)
			samples := make([][]float32, n)
			for i := range samples {
				samples[i] = owner.sample()
			}
			b.ReportAllocs()
			for b.Loop() {
				ts, _ := NewTemplateSet(ModalityKeystroke, Config{EnrollmentSize: n})
				for _, v := range samples {
					if _, err := ts.Enroll(Sample{Vec: v, Fingerprint: testFP}); err != nil {
						b.Fatal(err)
					}
				}
				if err := ts.Train(NewExactSearcher(31)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAddGenuine(b *testing.B) {
	owner := newTypist(22, 11)
	ts, idx := trainedSet(b, owner, Config{EnrollmentSize: 200}, 200)
	samples := make([]Sample, 256)
	for i := range samples {
		samples[i] = Sample{Vec: owner.sample(), Fingerprint: testFP}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		u, err := ts.AddGenuine(samples[i%len(samples)])
		if err != nil {
			b.Fatal(err)
		}
		if err := ApplyIndexUpdate(idx, u); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkMarshal(b *testing.B) {
	owner := newTypist(23, 11)
	ts, _ := trainedSet(b, owner, Config{EnrollmentSize: 200}, 200)
	data, _ := ts.MarshalBinary()
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = ts.MarshalBinary()
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var t TemplateSet
			if err := t.UnmarshalBinary(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
