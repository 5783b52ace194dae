package transport

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/behaviorauth/engine/actors/enginepb"
)

// wsBenchFrame is an events message of n events in the SDK's mix: typing (key down, key up, commit every 20
// keys), pointer moves and motion readings.
func wsBenchFrame(seq, n int) []byte {
	var b strings.Builder
	b.WriteString(`{"type":"events","seq":` + strconv.Itoa(seq) + `,"events":[`)
	t := 1000.0
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		t += 12.5
		switch i % 8 {
		case 0, 2, 4:
			fmt.Fprintf(&b, `{"kind":"key","t":%.3f,"phase":"down","code":"Key%c","field":"password"}`, t, 'A'+i%26)
		case 1, 3, 5:
			fmt.Fprintf(&b, `{"kind":"key","t":%.3f,"phase":"up","code":"Key%c","field":"password"}`, t, 'A'+(i-1)%26)
		case 6:
			fmt.Fprintf(&b, `{"kind":"pointer","t":%.3f,"phase":"move","x":%.1f,"y":%.1f,"pressure":0.5,"pointer":"mouse"}`, t, 100+float64(i), 388.0)
		default:
			fmt.Fprintf(&b, `{"kind":"motion","t":%.3f,"ax":0.1234,"ay":9.7012,"az":0.3301,"gx":0.00012,"gy":0.01,"gz":-0.002}`, t)
		}
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkWSDecode decodes and validates one events frame, by size (the transport's part of the hot path).
func BenchmarkWSDecode(b *testing.B) {
	for _, n := range []int{1, 32, 512} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			frame := wsBenchFrame(1, n)
			d := newWSDecoder(wsTestKey, 512)
			var f wsFrame
			if err := d.decode(frame, &f); err != nil || len(f.events) != n {
				b.Fatalf("decode: %v, %d events", err, len(f.events))
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := d.decode(frame, &f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWSEncode writes the answers of one message: a decision and its ack.
func BenchmarkWSEncode(b *testing.B) {
	d := &enginepb.Decision{Seq: 41, EventSeq: 12, Action: "allow", Risk: 0.07, Mode: "scoring",
		Sample:  &enginepb.Sample{Field: "password", Modality: "keystroke", Status: "scored", Risk: 0.04, HasRisk: true},
		Reasons: []string{"keystroke_timing_close"}, LatencyUs: 410}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = wsAppendDecision(buf[:0], d)
		buf = wsAppendAck(buf[:0], 12)
	}
}
