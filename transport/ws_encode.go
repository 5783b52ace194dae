package transport

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/behaviorauth/engine/actors/enginepb"
)

// Server frames (PROTOCOL.md "WebSocket", transport/ws_schema.json), appended to reused buffers by hand: a
// handful of fixed shapes, written on the hot path for every message.

func wsAppendAck(b []byte, seq int64) []byte {
	b = append(b, `{"type":"ack","seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	return append(b, '}')
}

func wsAppendPong(b []byte) []byte { return append(b, `{"type":"pong"}`...) }

// wsAppendError writes an error frame. seq is left out when 0 (the frame had none), index when negative (the
// error is not about one event).
func wsAppendError(b []byte, code, msg string, seq int64, index int32) []byte {
	b = append(b, `{"type":"error","code":`...)
	b = wsAppendString(b, code)
	b = append(b, `,"message":`...)
	b = wsAppendString(b, msg)
	if seq > 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendInt(b, seq, 10)
	}
	if index >= 0 {
		b = append(b, `,"index":`...)
		b = strconv.AppendInt(b, int64(index), 10)
	}
	return append(b, '}')
}

// wsAppendDecision writes a decision frame. `seq` is the client `events` message that completed the sample (as
// PROTOCOL.md's example pairs an ack and a decision of one seq); `decision_seq` is the decision's own number in
// the session, which feedback's `decision_seq` names. A decision taken without a client message (a challenge
// that expired) carries the last applied seq and no `sample`. `sample.risk` is absent unless the sample was
// scored. `reasons` are human texts, `reason_codes` the same reasons as codes.
func wsAppendDecision(b []byte, d *enginepb.Decision) []byte {
	b = append(b, `{"type":"decision","seq":`...)
	b = strconv.AppendInt(b, d.EventSeq, 10)
	b = append(b, `,"decision_seq":`...)
	b = strconv.AppendInt(b, d.Seq, 10)
	b = append(b, `,"action":`...)
	b = wsAppendString(b, d.Action)
	b = append(b, `,"risk":`...)
	b = wsAppendRisk(b, d.Risk)
	b = append(b, `,"mode":`...)
	b = wsAppendString(b, d.Mode)
	if s := d.Sample; s != nil && s.Modality != "" {
		b = append(b, `,"sample":{`...)
		if s.Field != "" {
			b = append(b, `"field":`...)
			b = wsAppendString(b, s.Field)
			b = append(b, ',')
		}
		b = append(b, `"modality":`...)
		b = wsAppendString(b, s.Modality)
		b = append(b, `,"status":`...)
		b = wsAppendString(b, s.Status)
		if s.HasRisk && s.Status != "enrolled" {
			b = append(b, `,"risk":`...)
			b = wsAppendRisk(b, s.Risk)
		}
		b = append(b, '}')
	}
	b = append(b, `,"reasons":[`...)
	for i, r := range d.Reasons {
		if i > 0 {
			b = append(b, ',')
		}
		b = wsAppendString(b, reasonHuman(r))
	}
	b = append(b, `],"reason_codes":[`...)
	for i, r := range d.Reasons {
		if i > 0 {
			b = append(b, ',')
		}
		b = wsAppendString(b, r)
	}
	b = append(b, `],"latency_us":`...)
	b = strconv.AppendInt(b, max(d.LatencyUs, 0), 10)
	return append(b, '}')
}

// wsAppendRisk writes a risk in [0, 1]. The engine keeps risks there; should it ever hand over something else, the
// wire still gets a valid number, and a NaN reads as the most cautious value.
func wsAppendRisk(b []byte, r float64) []byte {
	switch {
	case math.IsNaN(r) || r > 1:
		r = 1
	case r < 0:
		r = 0
	}
	// At most 6 decimals: finer risk differences mean nothing to a client, and the frame stays short.
	return strconv.AppendFloat(b, math.Round(r*1e6)/1e6, 'f', -1, 64)
}

const wsHex = "0123456789abcdef"

// wsAppendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD; U+2028 and U+2029 are escaped so that
// the frame is also valid JavaScript.
func wsAppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', wsHex[c>>4], wsHex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', wsHex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
