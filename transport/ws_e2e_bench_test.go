package transport_test

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/behaviorauth/engine/config"
)

// BenchmarkWSEventsRoundTrip sends one events frame over a real WebSocket to a real node and waits for its ack:
// decode and validation, the session actor applying the events, the ack written back. Allocations count the
// whole process (client, transport, engine). Pointer moves and navigation only: no sample completes, so the
// profile and Postgres stay out of it. Needs DATABASE_URL, like every test of the node.
func BenchmarkWSEventsRoundTrip(b *testing.B) {
	n := startWSNode(b, func(c *config.Config) {
		c.Limits.MessagesPerSecond = 1e9
		c.Limits.MessageBurst = 1 << 30
	})
	s := n.session(b)
	c, _, err := wsDial(n.wsURL, s.id, bearer(s.token))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	seq := 0
	var in bytes.Buffer
	for _, size := range []int{1, 32, 256} {
		b.Run(fmt.Sprintf("events=%d", size), func(b *testing.B) {
			var evs strings.Builder
			for i := 0; i < size; i++ {
				if i > 0 {
					evs.WriteByte(',')
				}
				if i%16 == 15 {
					evs.WriteString(`{"kind":"nav","t":1,"screen":"transfer"}`)
				} else {
					evs.WriteString(`{"kind":"pointer","t":1,"phase":"move","x":120.5,"y":388,"pressure":0.5,"pointer":"mouse"}`)
				}
			}
			head, tail := []byte(`{"type":"events","seq":`), []byte(`,"events":[`+evs.String()+`]}`)
			frame := make([]byte, 0, len(head)+len(tail)+20)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				seq++
				frame = append(strconv.AppendInt(append(frame[:0], head...), int64(seq), 10), tail...)
				_ = c.SetWriteDeadline(time.Now().Add(wsWait))
				if err := c.WriteMessage(websocket.TextMessage, frame); err != nil {
					b.Fatal(err)
				}
				_ = c.SetReadDeadline(time.Now().Add(wsWait))
				_, r, err := c.NextReader()
				if err != nil {
					b.Fatal(err)
				}
				in.Reset()
				if _, err := in.ReadFrom(r); err != nil {
					b.Fatal(err)
				}
				if !bytes.HasPrefix(in.Bytes(), []byte(`{"type":"ack","seq":`+strconv.Itoa(seq)+`}`)) {
					b.Fatalf("answer %s; want the ack of %d", in.Bytes(), seq)
				}
			}
		})
	}
}
