package transport

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/behaviorauth/engine/actors/enginepb"
)

// Client frames (PROTOCOL.md "WebSocket"), decoded by a small JSON scanner of our own rather than encoding/json:
// a bad event must be named by its index while the rest of the message still applies, values the engine needs
// go straight into reused protobuf events, and raw key codes are hashed where they are read, without a
// per-event allocation in the steady state.

// Bounds of the client's values. Numbers beyond them are refused as the event's error; strings are byte lengths.
const (
	wsMaxField     = 64   // `field`
	wsMaxCode      = 64   // `code`, before hashing
	wsMaxScreen    = 128  // `screen`
	wsMaxT         = 1e12 // |t| in ms (about 31 years from the client's origin)
	wsMaxCoord     = 1e6  // |x|, |y| in CSS pixels
	wsMaxPressure  = 1e3  // pressure (touch force can exceed 1 on some devices)
	wsMaxMotion    = 1e4  // |ax|..|gz|, m/s² and rad/s
	wsMaxSeq       = 1<<53 - 1
	wsMaxDepth     = 64  // nesting of values the scanner skips
	wsInternCap    = 256 // distinct field, screen strings kept per connection
	wsCodeCacheCap = 512 // distinct key codes whose hash is kept per connection
)

type wsFrameType uint8

const (
	wsFrameUnknown wsFrameType = iota
	wsFrameEvents
	wsFramePing
)

// wsFrame is one decoded client message. Its slices are reused from one message to the next.
type wsFrame struct {
	typ wsFrameType
	seq int64
	// events are the valid events in order; index[i] is events[i]'s position in the client's array.
	events []*enginepb.Event
	index  []int32
	// bad are the invalid events, by position.
	bad []wsEventError
	// count is the length of the client's events array.
	count int
}

// wsEventError is one refused event: its position in the client's array and why.
type wsEventError struct {
	index int32
	msg   string
}

// wsFrameError refuses a whole frame; nothing of it is applied.
type wsFrameError struct {
	code string // invalid_frame or invalid_type
	msg  string
	seq  int64 // the frame's seq when it could be read, else 0
}

func (e *wsFrameError) Error() string { return e.code + ": " + e.msg }

// Keys of an event object the decoder reads; others are skipped (a later client may send more).
type wsKey uint8

const (
	wsKKind wsKey = iota
	wsKT
	wsKPhase
	wsKCode
	wsKField
	wsKX
	wsKY
	wsKPressure
	wsKPointer
	wsKAx
	wsKAy
	wsKAz
	wsKGx
	wsKGy
	wsKGz
	wsKScreen
	wsKeyCount
)

var wsKeyNames = [wsKeyCount]string{"kind", "t", "phase", "code", "field", "x", "y", "pressure", "pointer",
	"ax", "ay", "az", "gx", "gy", "gz", "screen"}

func wsKeyOf(b []byte) wsKey {
	switch string(b) {
	case "kind":
		return wsKKind
	case "t":
		return wsKT
	case "phase":
		return wsKPhase
	case "code":
		return wsKCode
	case "field":
		return wsKField
	case "x":
		return wsKX
	case "y":
		return wsKY
	case "pressure":
		return wsKPressure
	case "pointer":
		return wsKPointer
	case "ax":
		return wsKAx
	case "ay":
		return wsKAy
	case "az":
		return wsKAz
	case "gx":
		return wsKGx
	case "gy":
		return wsKGy
	case "gz":
		return wsKGz
	case "screen":
		return wsKScreen
	}
	return wsKeyCount
}

func wsIsStringKey(k wsKey) bool {
	switch k {
	case wsKKind, wsKPhase, wsKCode, wsKField, wsKPointer, wsKScreen:
		return true
	}
	return false
}

// wsEvent collects one event object's keys before the kind (which may come last) says which are needed.
type wsEvent struct {
	seen, bad uint32
	why       [wsKeyCount]string // why a key's value was refused (constant strings: no allocation)
	num       [wsKeyCount]float64
	kind      enginepb.EventKind
	phase     enginepb.Phase
	code      uint64
	field     string
	pointer   string
	screen    string
}

// wsDecoder decodes one connection's frames. It is not safe for concurrent use: the connection's reader owns it.
type wsDecoder struct {
	maxEvents int
	mac       hash.Hash
	sum       [sha256.Size]byte
	codes     map[string]uint64
	strs      map[string]string
	pool      []*enginepb.Event // events handed out by the last decode, reused by the next
	scratch   []byte            // unescaped strings
	ev        wsEvent

	data []byte
	pos  int
}

func newWSDecoder(keyHashKey []byte, maxEvents int) *wsDecoder {
	return &wsDecoder{
		maxEvents: maxEvents,
		mac:       hmac.New(sha256.New, keyHashKey),
		codes:     make(map[string]uint64),
		strs:      make(map[string]string),
	}
}

// abandon forgets the events handed out by the last decode: they may still be read by an engine call that did not
// answer in time, so the next decode must not overwrite them.
func (d *wsDecoder) abandon() { d.pool = nil }

// hashCode turns a client's key code into the opaque number the engine sees: HMAC-SHA256 under the node's key
// hashing key, truncated to 64 bits. Equal codes give equal numbers on every node of the cluster; the raw code
// never leaves the transport.
func (d *wsDecoder) hashCode(code []byte) uint64 {
	if v, ok := d.codes[string(code)]; ok {
		return v
	}
	d.mac.Reset()
	d.mac.Write(code)
	v := binary.BigEndian.Uint64(d.mac.Sum(d.sum[:0]))
	if len(d.codes) < wsCodeCacheCap {
		d.codes[string(code)] = v
	}
	return v
}

// intern returns b as a string, shared with earlier equal ones of this connection.
func (d *wsDecoder) intern(b []byte) string {
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.strs) < wsInternCap {
		d.strs[s] = s
	}
	return s
}

// wsSyntaxError is a frame that is not JSON at all.
func wsSyntaxError(pos int) *wsFrameError {
	return &wsFrameError{code: "invalid_frame", msg: "frame is not valid JSON (at byte " + strconv.Itoa(pos) + ")"}
}

// decode reads data into f. A frame-level problem (not JSON, unknown type, bad seq, too many events) returns an
// error and nothing of the frame applies; bad events are listed in f.bad and the others are in f.events.
func (d *wsDecoder) decode(data []byte, f *wsFrame) *wsFrameError {
	f.typ, f.seq, f.count = wsFrameUnknown, 0, 0
	f.events, f.index, f.bad = f.events[:0], f.index[:0], f.bad[:0]
	d.data, d.pos = data, 0

	var (
		typeSeen, typeBad, seqSeen, seqBad, eventsSeen, eventsBad bool
	)
	d.skipWS()
	if !d.consume('{') {
		if d.skipValue(0) {
			if d.skipWS(); d.atEnd() {
				return &wsFrameError{code: "invalid_frame", msg: "frame must be a JSON object"}
			}
		}
		return wsSyntaxError(d.pos)
	}
	d.skipWS()
	if !d.consume('}') {
		for {
			d.skipWS()
			key, ok := d.readString()
			if !ok {
				return wsSyntaxError(d.pos)
			}
			d.skipWS()
			if !d.consume(':') {
				return wsSyntaxError(d.pos)
			}
			d.skipWS()
			switch string(key) {
			case "type":
				if typeSeen {
					return &wsFrameError{code: "invalid_frame", msg: "type appears twice"}
				}
				typeSeen = true
				if d.peek() != '"' {
					typeBad = true
					if !d.skipValue(0) {
						return wsSyntaxError(d.pos)
					}
					break
				}
				v, ok := d.readString()
				if !ok {
					return wsSyntaxError(d.pos)
				}
				switch string(v) {
				case "events":
					f.typ = wsFrameEvents
				case "ping":
					f.typ = wsFramePing
				}
			case "seq":
				if seqSeen {
					return &wsFrameError{code: "invalid_frame", msg: "seq appears twice"}
				}
				seqSeen = true
				if !wsIsNumberStart(d.peek()) {
					seqBad = true
					if !d.skipValue(0) {
						return wsSyntaxError(d.pos)
					}
					break
				}
				n, ok := d.readNumber()
				if !ok {
					return wsSyntaxError(d.pos)
				}
				seq, err := strconv.ParseInt(string(n), 10, 64)
				if err != nil || seq < 1 || seq > wsMaxSeq {
					seqBad = true
				} else {
					f.seq = seq
				}
			case "events":
				if eventsSeen {
					return &wsFrameError{code: "invalid_frame", msg: "events appears twice"}
				}
				eventsSeen = true
				if d.peek() != '[' {
					eventsBad = true
					if !d.skipValue(0) {
						return wsSyntaxError(d.pos)
					}
					break
				}
				if !d.readEvents(f) {
					return wsSyntaxError(d.pos)
				}
			default:
				if !d.skipValue(0) {
					return wsSyntaxError(d.pos)
				}
			}
			d.skipWS()
			if d.consume(',') {
				continue
			}
			if d.consume('}') {
				break
			}
			return wsSyntaxError(d.pos)
		}
	}
	d.skipWS()
	if !d.atEnd() {
		return wsSyntaxError(d.pos)
	}

	switch {
	case !typeSeen:
		return &wsFrameError{code: "invalid_type", msg: "type is required", seq: f.seq}
	case typeBad:
		return &wsFrameError{code: "invalid_type", msg: "type must be a string", seq: f.seq}
	case f.typ == wsFrameUnknown:
		return &wsFrameError{code: "invalid_type", msg: "unknown type (expected events or ping)", seq: f.seq}
	case f.typ == wsFramePing:
		f.events, f.index, f.bad, f.count = f.events[:0], f.index[:0], f.bad[:0], 0
		return nil
	}
	switch {
	case !seqSeen || seqBad:
		return &wsFrameError{code: "invalid_frame", msg: "seq must be an integer from 1 to 2^53-1"}
	case !eventsSeen || eventsBad:
		return &wsFrameError{code: "invalid_frame", msg: "events must be an array", seq: f.seq}
	case f.count > d.maxEvents:
		return &wsFrameError{code: "invalid_frame", seq: f.seq,
			msg: "too many events: " + strconv.Itoa(f.count) + ", at most " + strconv.Itoa(d.maxEvents) + " per message"}
	}
	return nil
}

// readEvents reads the events array. It returns false on a syntax error only.
func (d *wsDecoder) readEvents(f *wsFrame) bool {
	d.pos++ // '['
	d.skipWS()
	if d.consume(']') {
		return true
	}
	for {
		d.skipWS()
		i := f.count
		f.count++
		if f.count > d.maxEvents {
			// Over the limit the frame is refused; only its syntax matters now.
			if !d.skipValue(1) {
				return false
			}
		} else if !d.readEvent(int32(i), f) {
			return false
		}
		d.skipWS()
		if d.consume(',') {
			continue
		}
		return d.consume(']')
	}
}

// readEvent reads one element of the events array into f.events or f.bad. It returns false on a syntax error only.
func (d *wsDecoder) readEvent(i int32, f *wsFrame) bool {
	if d.peek() != '{' {
		if !d.skipValue(1) {
			return false
		}
		f.bad = append(f.bad, wsEventError{index: i, msg: wsEventMsg(i, "must be an object")})
		return true
	}
	d.pos++
	e := &d.ev
	*e = wsEvent{}
	d.skipWS()
	if !d.consume('}') {
		for {
			d.skipWS()
			key, ok := d.readString()
			if !ok {
				return false
			}
			d.skipWS()
			if !d.consume(':') {
				return false
			}
			d.skipWS()
			k := wsKeyOf(key)
			switch {
			case k == wsKeyCount:
				if !d.skipValue(2) {
					return false
				}
			case e.seen&(1<<k) != 0:
				e.bad |= 1 << k
				e.why[k] = "appears twice"
				if !d.skipValue(2) {
					return false
				}
			case wsIsStringKey(k):
				e.seen |= 1 << k
				if d.peek() != '"' {
					e.bad |= 1 << k
					e.why[k] = "must be a string"
					if !d.skipValue(2) {
						return false
					}
					break
				}
				v, ok := d.readString()
				if !ok {
					return false
				}
				if why := d.setString(e, k, v); why != "" {
					e.bad |= 1 << k
					e.why[k] = why
				}
			default:
				e.seen |= 1 << k
				if !wsIsNumberStart(d.peek()) {
					e.bad |= 1 << k
					e.why[k] = "must be a number"
					if !d.skipValue(2) {
						return false
					}
					break
				}
				n, ok := d.readNumber()
				if !ok {
					return false
				}
				v, err := parseNumber(n)
				if why := wsCheckNumber(k, v, err); why != "" {
					e.bad |= 1 << k
					e.why[k] = why
				} else {
					e.num[k] = v
				}
			}
			d.skipWS()
			if d.consume(',') {
				continue
			}
			if d.consume('}') {
				break
			}
			return false
		}
	}
	if why := e.validate(); why != "" {
		f.bad = append(f.bad, wsEventError{index: i, msg: wsEventMsg(i, why)})
		return true
	}
	f.events = append(f.events, d.event(len(f.events), e))
	f.index = append(f.index, i)
	return true
}

func wsEventMsg(i int32, why string) string {
	return "event " + strconv.Itoa(int(i)) + ": " + why
}

// setString records a string value of key k and returns why it is refused, or "".
func (d *wsDecoder) setString(e *wsEvent, k wsKey, v []byte) string {
	switch k {
	case wsKKind:
		switch string(v) {
		case "key":
			e.kind = enginepb.EventKind_EVENT_KIND_KEY
		case "commit":
			e.kind = enginepb.EventKind_EVENT_KIND_COMMIT
		case "pointer":
			e.kind = enginepb.EventKind_EVENT_KIND_POINTER
		case "motion":
			e.kind = enginepb.EventKind_EVENT_KIND_MOTION
		case "nav":
			e.kind = enginepb.EventKind_EVENT_KIND_NAV
		default:
			return "must be one of key, commit, pointer, motion, nav"
		}
	case wsKPhase:
		switch string(v) {
		case "down":
			e.phase = enginepb.Phase_PHASE_DOWN
		case "up":
			e.phase = enginepb.Phase_PHASE_UP
		case "move":
			e.phase = enginepb.Phase_PHASE_MOVE
		default:
			return "must be one of down, up, move"
		}
	case wsKPointer:
		switch string(v) {
		case "mouse":
			e.pointer = "mouse"
		case "touch":
			e.pointer = "touch"
		case "pen":
			e.pointer = "pen"
		default:
			return "must be one of mouse, touch, pen"
		}
	case wsKCode:
		if why := wsCheckText(v, wsMaxCode); why != "" {
			return why
		}
		e.code = d.hashCode(v)
	case wsKField:
		if why := wsCheckText(v, wsMaxField); why != "" {
			return why
		}
		e.field = d.intern(v)
	case wsKScreen:
		if why := wsCheckText(v, wsMaxScreen); why != "" {
			return why
		}
		e.screen = d.intern(v)
	}
	return ""
}

// wsCheckText accepts 1 to max bytes of valid UTF-8 without control characters.
func wsCheckText(v []byte, max int) string {
	if len(v) == 0 {
		return "must not be empty"
	}
	if len(v) > max {
		return "must be at most " + strconv.Itoa(max) + " bytes"
	}
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return "must not contain control characters"
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && size == 1 {
			return "must be valid UTF-8"
		}
		i += size
	}
	return ""
}

// wsCheckNumber accepts a finite number within the key's bounds.
func wsCheckNumber(k wsKey, v float64, err error) string {
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return "must be a finite number"
	}
	switch k {
	case wsKT:
		if math.Abs(v) > wsMaxT {
			return "must be within ±1e12"
		}
	case wsKX, wsKY:
		if math.Abs(v) > wsMaxCoord {
			return "must be within ±1e6"
		}
	case wsKPressure:
		if v < 0 || v > wsMaxPressure {
			return "must be within 0 and 1000"
		}
	default:
		if math.Abs(v) > wsMaxMotion {
			return "must be within ±1e4"
		}
	}
	return ""
}

// validate says what is wrong with the event for its kind, or "". Keys that the kind does not use are ignored,
// even when their values were refused.
func (e *wsEvent) validate() string {
	if e.seen&(1<<wsKKind) == 0 {
		return "kind is required"
	}
	if e.bad&(1<<wsKKind) != 0 {
		return "kind " + e.why[wsKKind]
	}
	need := func(ks ...wsKey) string {
		for _, k := range ks {
			if e.bad&(1<<k) != 0 {
				return wsKeyNames[k] + " " + e.why[k]
			}
			if e.seen&(1<<k) == 0 {
				return wsKeyNames[k] + " is required"
			}
		}
		return ""
	}
	may := func(ks ...wsKey) string {
		for _, k := range ks {
			if e.bad&(1<<k) != 0 {
				return wsKeyNames[k] + " " + e.why[k]
			}
		}
		return ""
	}
	var why string
	switch e.kind {
	case enginepb.EventKind_EVENT_KIND_KEY:
		if why = need(wsKT, wsKPhase, wsKCode, wsKField); why == "" && e.phase == enginepb.Phase_PHASE_MOVE {
			why = "phase must be down or up for a key event"
		}
	case enginepb.EventKind_EVENT_KIND_COMMIT:
		why = need(wsKT, wsKField)
	case enginepb.EventKind_EVENT_KIND_POINTER:
		if why = need(wsKT, wsKPhase, wsKX, wsKY); why == "" {
			why = may(wsKPressure, wsKPointer)
		}
	case enginepb.EventKind_EVENT_KIND_MOTION:
		if why = need(wsKT, wsKAx, wsKAy, wsKAz); why == "" {
			why = may(wsKGx, wsKGy, wsKGz)
		}
	case enginepb.EventKind_EVENT_KIND_NAV:
		why = need(wsKT, wsKScreen)
	}
	return why
}

// event fills the n-th reused protobuf event from e, setting every field (a reused event keeps nothing of its
// previous use). Only the fields of the event's kind are set; the others are zero.
func (d *wsDecoder) event(n int, e *wsEvent) *enginepb.Event {
	if n == len(d.pool) {
		d.pool = append(d.pool, new(enginepb.Event))
	}
	p := d.pool[n]
	p.Kind, p.T = e.kind, e.num[wsKT]
	p.Phase, p.Code, p.Field = enginepb.Phase_PHASE_UNSPECIFIED, 0, ""
	p.X, p.Y, p.Pressure, p.Pointer = 0, 0, 0, ""
	p.Ax, p.Ay, p.Az, p.Gx, p.Gy, p.Gz = 0, 0, 0, 0, 0, 0
	p.Screen = ""
	switch e.kind {
	case enginepb.EventKind_EVENT_KIND_KEY:
		p.Phase, p.Code, p.Field = e.phase, e.code, e.field
	case enginepb.EventKind_EVENT_KIND_COMMIT:
		p.Field = e.field
	case enginepb.EventKind_EVENT_KIND_POINTER:
		p.Phase, p.X, p.Y, p.Pressure, p.Pointer = e.phase, e.num[wsKX], e.num[wsKY], e.num[wsKPressure], e.pointer
	case enginepb.EventKind_EVENT_KIND_MOTION:
		p.Ax, p.Ay, p.Az = e.num[wsKAx], e.num[wsKAy], e.num[wsKAz]
		p.Gx, p.Gy, p.Gz = e.num[wsKGx], e.num[wsKGy], e.num[wsKGz]
	case enginepb.EventKind_EVENT_KIND_NAV:
		p.Screen = e.screen
	}
	return p
}

// The scanner. Every read method leaves d.pos after what it read, or at the offending byte when it fails.

func (d *wsDecoder) atEnd() bool { return d.pos >= len(d.data) }

func (d *wsDecoder) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func (d *wsDecoder) consume(c byte) bool {
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

func (d *wsDecoder) skipWS() {
	// The scanners below work on locals: the decoder's fields would be loaded and stored at every byte.
	data, pos := d.data, d.pos
	for pos < len(data) {
		switch data[pos] {
		case ' ', '\t', '\n', '\r':
			pos++
			continue
		}
		break
	}
	d.pos = pos
}

func wsIsNumberStart(c byte) bool { return c == '-' || (c >= '0' && c <= '9') }

// readNumber reads a JSON number and returns its text.
func (d *wsDecoder) readNumber() ([]byte, bool) {
	start := d.pos
	d.consume('-')
	switch {
	case d.consume('0'):
	case d.pos < len(d.data) && d.data[d.pos] >= '1' && d.data[d.pos] <= '9':
		d.digits()
	default:
		return nil, false
	}
	if d.consume('.') {
		if d.digits() == 0 {
			return nil, false
		}
	}
	if d.consume('e') || d.consume('E') {
		if !d.consume('+') {
			d.consume('-')
		}
		if d.digits() == 0 {
			return nil, false
		}
	}
	return d.data[start:d.pos], true
}

// pow10 holds the powers of ten a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseNumber converts a JSON number's text (as readNumber returns it) to a float64. Event fields are mostly
// short decimals ("1234.5"): with at most 15 significant digits and no exponent, the digits are an exact integer
// and the power of ten exact, so one division rounds correctly, the same value strconv.ParseFloat gives,
// without its general parse. Anything else goes to strconv.
func parseNumber(b []byte) (float64, error) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	var mant uint64
	digits, frac, dot := 0, 0, false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return strconv.ParseFloat(string(b), 64)
		}
	}
	if digits == 0 || digits > 15 {
		return strconv.ParseFloat(string(b), 64)
	}
	v := float64(mant) / pow10[frac]
	if neg {
		v = -v
	}
	return v, nil
}

func (d *wsDecoder) digits() int {
	data, pos := d.data, d.pos
	for pos < len(data) && data[pos] >= '0' && data[pos] <= '9' {
		pos++
	}
	n := pos - d.pos
	d.pos = pos
	return n
}

// readString reads a JSON string at d.pos and returns its unescaped bytes: a slice of the frame when it has no
// escapes, else of the decoder's scratch buffer, valid until the next readString.
func (d *wsDecoder) readString() ([]byte, bool) {
	data, pos := d.data, d.pos
	if pos >= len(data) || data[pos] != '"' {
		return nil, false
	}
	pos++
	start := pos
	for ; pos < len(data); pos++ {
		c := data[pos]
		if c == '"' {
			d.pos = pos + 1
			return data[start:pos], true
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	d.pos = pos
	if pos < len(data) && data[pos] == '\\' {
		d.scratch = append(d.scratch[:0], data[start:pos]...)
		return d.readEscaped()
	}
	return nil, false
}

// readEscaped finishes a string that has escapes, unescaping into d.scratch.
func (d *wsDecoder) readEscaped() ([]byte, bool) {
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return d.scratch, true
		case c < 0x20:
			return nil, false
		case c != '\\':
			d.scratch = append(d.scratch, c)
			d.pos++
			continue
		}
		d.pos++ // the backslash
		if d.pos >= len(d.data) {
			return nil, false
		}
		c = d.data[d.pos]
		d.pos++
		switch c {
		case '"', '\\', '/':
			d.scratch = append(d.scratch, c)
		case 'b':
			d.scratch = append(d.scratch, '\b')
		case 'f':
			d.scratch = append(d.scratch, '\f')
		case 'n':
			d.scratch = append(d.scratch, '\n')
		case 'r':
			d.scratch = append(d.scratch, '\r')
		case 't':
			d.scratch = append(d.scratch, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return nil, false
			}
			if r >= 0xD800 && r < 0xDC00 {
				// A high surrogate makes a pair with a following \u low surrogate; alone it is U+FFFD.
				if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
					save := d.pos
					d.pos += 2
					lo, ok := d.hex4()
					if !ok {
						return nil, false
					}
					if lo >= 0xDC00 && lo < 0xE000 {
						r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					} else {
						d.pos = save
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			} else if r >= 0xDC00 && r < 0xE000 {
				r = utf8.RuneError
			}
			d.scratch = utf8.AppendRune(d.scratch, r)
		default:
			return nil, false
		}
	}
	return nil, false
}

func (d *wsDecoder) hex4() (rune, bool) {
	if d.pos+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.pos += 4
	return r, true
}

// skipValue reads any JSON value at depth (nesting beyond wsMaxDepth is refused) and checks its syntax.
func (d *wsDecoder) skipValue(depth int) bool {
	if depth > wsMaxDepth {
		return false
	}
	switch c := d.peek(); {
	case c == '"':
		_, ok := d.skipString()
		return ok
	case c == '{':
		d.pos++
		d.skipWS()
		if d.consume('}') {
			return true
		}
		for {
			d.skipWS()
			if _, ok := d.skipString(); !ok {
				return false
			}
			d.skipWS()
			if !d.consume(':') {
				return false
			}
			d.skipWS()
			if !d.skipValue(depth + 1) {
				return false
			}
			d.skipWS()
			if d.consume(',') {
				continue
			}
			return d.consume('}')
		}
	case c == '[':
		d.pos++
		d.skipWS()
		if d.consume(']') {
			return true
		}
		for {
			d.skipWS()
			if !d.skipValue(depth + 1) {
				return false
			}
			d.skipWS()
			if d.consume(',') {
				continue
			}
			return d.consume(']')
		}
	case wsIsNumberStart(c):
		_, ok := d.readNumber()
		return ok
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
				d.pos += len(lit)
				return true
			}
		}
		return false
	}
}

// skipString checks a string's syntax without unescaping it.
func (d *wsDecoder) skipString() (int, bool) {
	if !d.consume('"') {
		return 0, false
	}
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return d.pos - start - 1, true
		case c < 0x20:
			return 0, false
		case c == '\\':
			d.pos++
			if d.pos >= len(d.data) {
				return 0, false
			}
			switch d.data[d.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.pos++
			case 'u':
				d.pos++
				if _, ok := d.hex4(); !ok {
					return 0, false
				}
			default:
				return 0, false
			}
			continue
		}
		d.pos++
	}
	return 0, false
}
