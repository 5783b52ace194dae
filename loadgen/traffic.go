package loadgen

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strconv"
)

// typist generates one user's typing: a fixed field typed again and again with a personal rhythm, and a short
// pointer run before each entry, as a banking form would see them.
type typist struct {
	rng    *rand.Rand
	hold   []float64
	flight []float64
	codes  []string
	t      float64
}

// payeeCodes are the key codes of the field the simulated users type (the same text each time).
var payeeCodes = []string{"KeyR", "KeyA", "KeyV", "KeyI", "Space", "KeyK", "KeyU", "KeyM", "KeyA", "KeyR"}

// newTypist returns user seed's typist. The rhythm comes from the seed alone, so a user types alike in every
// run and matches the profile earlier runs enrolled; the noise comes from the seed and nonce, so no run repeats
// an earlier run's samples exactly (the engine rightly blocks exact replays).
func newTypist(seed, nonce uint64) *typist {
	r := rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15+1))
	ty := &typist{rng: rand.New(rand.NewPCG(seed^nonce, nonce+0x632be59bd9b4e019)), codes: payeeCodes}
	base, flight := 70+50*r.Float64(), 120+150*r.Float64()
	for range payeeCodes {
		ty.hold = append(ty.hold, base*(0.7+0.6*r.Float64()))
		ty.flight = append(ty.flight, flight*(0.6+0.8*r.Float64()))
	}
	return ty
}

// EventsPerFrame is the number of events in every frame the generator sends: 8 pointer moves, then one typed
// entry of 10 keys (20 key events) and its commit.
const EventsPerFrame = 8 + 2*10 + 1

// appendFrame writes one `events` message (one completed keystroke sample) into b.
func (ty *typist) appendFrame(b []byte, seq int64) []byte {
	b = append(b, `{"type":"events","seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"events":[`...)
	x, y := 100+200*ty.rng.Float64(), 300+100*ty.rng.Float64()
	for i := 0; i < 8; i++ {
		ty.t += 8 + 4*ty.rng.Float64()
		x += 6 + ty.rng.NormFloat64()
		y += 2 + ty.rng.NormFloat64()
		b = append(b, `{"kind":"pointer","t":`...)
		b = appendTenths(b, ty.t)
		b = append(b, `,"phase":"move","x":`...)
		b = appendTenths(b, x)
		b = append(b, `,"y":`...)
		b = appendTenths(b, y)
		b = append(b, `,"pressure":0.5,"pointer":"mouse"},`...)
	}
	ty.t += 300
	for i, c := range ty.codes {
		h := ty.hold[i] * (1 + 0.08*ty.rng.NormFloat64())
		for _, ph := range [2]struct {
			name string
			t    float64
		}{{"down", ty.t}, {"up", ty.t + h}} {
			b = append(b, `{"kind":"key","t":`...)
			b = appendTenths(b, ph.t)
			b = append(b, `,"phase":"`...)
			b = append(b, ph.name...)
			b = append(b, `","code":"`...)
			b = append(b, c...)
			b = append(b, `","field":"payee"},`...)
		}
		ty.t += ty.flight[i] * (1 + 0.08*ty.rng.NormFloat64())
	}
	ty.t += 250
	b = append(b, `{"kind":"commit","t":`...)
	b = appendTenths(b, ty.t)
	b = append(b, `,"field":"payee"}]}`...)
	ty.t += 400
	return b
}

// appendTenths writes v with one decimal, as strconv.AppendFloat(b, v, 'f', 1, 64) would but for the rounding of
// exact halves, in a fraction of its time: the generator writes 45 numbers per frame, on the machine it measures.
func appendTenths(b []byte, v float64) []byte {
	n := int64(math.Round(v * 10))
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	b = strconv.AppendInt(b, n/10, 10)
	return append(b, '.', byte('0'+n%10))
}

// replyKind finds the "type" and "seq" of a server frame without decoding all of it: the generator must cost
// the machine as little as possible, since it shares it with the server it measures.
func replyKind(b []byte) (kind string, seq int64) {
	kind = field(b, `"type":"`, '"')
	if s := field(b, `"seq":`, 0); s != "" {
		seq, _ = strconv.ParseInt(s, 10, 64)
	}
	return kind, seq
}

// challengeAction is how a decision frame asking for a step-up reads (the server writes compact JSON; inside a
// string value the quotes would be escaped, so no reason text can match it).
var challengeAction = []byte(`"action":"challenge"`)

// isChallenge reports whether a decision frame asks for a step-up, without decoding or allocating: it runs on
// every decision the reader takes.
func isChallenge(b []byte) bool { return bytes.Contains(b, challengeAction) }

func field(b []byte, key string, end byte) string {
	i := index(b, key)
	if i < 0 {
		return ""
	}
	i += len(key)
	j := i
	for j < len(b) {
		c := b[j]
		if end != 0 && c == end {
			break
		}
		if end == 0 && (c < '0' || c > '9') && c != '-' {
			break
		}
		j++
	}
	return string(b[i:j])
}

func index(b []byte, s string) int { return bytes.Index(b, []byte(s)) }
