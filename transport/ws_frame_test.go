package transport

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/behaviorauth/engine/actors/enginepb"
)

var wsTestKey = []byte("test key-code hashing key 0123456789")

func TestWSDecodeFrame(t *testing.T) {
	t.Parallel()
	type want struct {
		typ      wsFrameType
		seq      int64
		good     []int32 // client indexes of the valid events
		bad      map[int32]string
		errCode  string
		errMatch string
	}
	tests := []struct {
		name  string
		frame string
		want  want
	}{
		{"ping", `{"type":"ping"}`, want{typ: wsFramePing}},
		{"ping with spaces and extra keys", " \n{ \"x\" : [1, {\"y\": null}], \"type\" : \"ping\" }\t", want{typ: wsFramePing}},
		{"empty events", `{"type":"events","seq":1,"events":[]}`, want{typ: wsFrameEvents, seq: 1}},
		{"type after events", `{"seq":7,"events":[{"kind":"nav","t":1,"screen":"home"}],"type":"events"}`,
			want{typ: wsFrameEvents, seq: 7, good: []int32{0}}},
		{"protocol example", `{"type": "events", "seq": 12, "events": [
  {"kind": "key",     "t": 1712.5, "phase": "down", "code": "KeyT", "field": "password"},
  {"kind": "key",     "t": 1801.2, "phase": "up",   "code": "KeyT", "field": "password"},
  {"kind": "commit",  "t": 2950.0, "field": "password"},
  {"kind": "pointer", "t": 3001.0, "phase": "move", "x": 120.5, "y": 388.0, "pressure": 0.5, "pointer": "mouse"},
  {"kind": "motion",  "t": 3002.0, "ax": 0.1, "ay": 9.7, "az": 0.3, "gx": 0.0, "gy": 0.01, "gz": 0.0},
  {"kind": "nav",     "t": 3100.0, "screen": "transfer"}
]}`, want{typ: wsFrameEvents, seq: 12, good: []int32{0, 1, 2, 3, 4, 5}}},
		{"bad events named, good kept", `{"type":"events","seq":3,"events":[
  {"kind":"key","t":1,"phase":"down","code":"KeyA","field":"f"},
  {"kind":"teleport","t":2},
  {"kind":"key","t":3,"phase":"move","code":"KeyA","field":"f"},
  7,
  {"kind":"commit","t":1e999,"field":"f"},
  {"kind":"commit","t":5,"field":""},
  {"kind":"key","t":6,"phase":"up","field":"f"},
  {"kind":"pointer","t":7,"phase":"down","x":"1","y":2},
  {"kind":"nav","t":8,"screen":"a","screen":"b"},
  {"t":9},
  {"kind":"commit","t":10,"field":"f"}
]}`, want{typ: wsFrameEvents, seq: 3, good: []int32{0, 10}, bad: map[int32]string{
			1: "event 1: kind must be one of", 2: "event 2: phase must be down or up", 3: "event 3: must be an object",
			4: "event 4: t must be a finite number", 5: "event 5: field must not be empty",
			6: "event 6: code is required", 7: "event 7: x must be a number", 8: "event 8: screen appears twice",
			9: "event 9: kind is required"}}},
		{"fields of another kind are ignored", `{"type":"events","seq":1,"events":[{"kind":"commit","t":1,"field":"f","x":"no","phase":9}]}`,
			want{typ: wsFrameEvents, seq: 1, good: []int32{0}}},
		{"escaped strings", `{"type":"events","seq":1,"events":[{"k\u0069nd":"nav","t":1,"screen":"tr\u00e4nsfer \ud83d\ude00 \/"}]}`,
			want{typ: wsFrameEvents, seq: 1, good: []int32{0}}},
		{"control character in a field", `{"type":"events","seq":1,"events":[{"kind":"nav","t":1,"screen":"a\u0001"}]}`,
			want{typ: wsFrameEvents, seq: 1, bad: map[int32]string{0: "screen must not contain control characters"}}},
		{"out of bounds numbers", `{"type":"events","seq":1,"events":[
  {"kind":"pointer","t":1,"phase":"move","x":2e6,"y":0},
  {"kind":"pointer","t":1,"phase":"move","x":1,"y":0,"pressure":-1},
  {"kind":"motion","t":1,"ax":1,"ay":1,"az":1e5},
  {"kind":"motion","t":1,"ax":1,"ay":1,"az":1,"gz":-2e4},
  {"kind":"nav","t":-2e12,"screen":"s"}
]}`, want{typ: wsFrameEvents, seq: 1, bad: map[int32]string{0: "x must be within", 1: "pressure must be within",
			2: "az must be within", 3: "gz must be within", 4: "t must be within"}}},
		{"long field", `{"type":"events","seq":1,"events":[{"kind":"commit","t":1,"field":"` + strings.Repeat("f", 65) + `"}]}`,
			want{typ: wsFrameEvents, seq: 1, bad: map[int32]string{0: "field must be at most 64 bytes"}}},

		{"not JSON", `hello`, want{errCode: "invalid_frame", errMatch: "not valid JSON"}},
		{"truncated", `{"type":"events","seq":1,"events":[{"kind":"nav"`, want{errCode: "invalid_frame", errMatch: "not valid JSON"}},
		{"trailing garbage", `{"type":"ping"} x`, want{errCode: "invalid_frame", errMatch: "not valid JSON"}},
		{"two objects", `{"type":"ping"}{"type":"ping"}`, want{errCode: "invalid_frame", errMatch: "not valid JSON"}},
		{"bad escape", `{"type":"p\xing"}`, want{errCode: "invalid_frame", errMatch: "not valid JSON"}},
		{"raw control character", "{\"type\":\"pi\nng\"}", want{errCode: "invalid_frame", errMatch: "not valid JSON"}},
		{"bad number", `{"type":"events","seq":01,"events":[]}`, want{errCode: "invalid_frame", errMatch: "not valid JSON"}},
		{"too deep", `{"type":"ping","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
			want{errCode: "invalid_frame", errMatch: "not valid JSON"}},
		{"array", `[1,2]`, want{errCode: "invalid_frame", errMatch: "must be a JSON object"}},
		{"empty", ``, want{errCode: "invalid_frame", errMatch: "not valid JSON"}},
		{"no type", `{"seq":1}`, want{errCode: "invalid_type", errMatch: "type is required", seq: 1}},
		{"type not a string", `{"type":1}`, want{errCode: "invalid_type", errMatch: "must be a string"}},
		{"unknown type", `{"type":"subscribe","seq":4}`, want{errCode: "invalid_type", errMatch: "unknown type", seq: 4}},
		{"type twice", `{"type":"ping","type":"events"}`, want{errCode: "invalid_frame", errMatch: "twice"}},
		{"no seq", `{"type":"events","events":[]}`, want{errCode: "invalid_frame", errMatch: "seq must be"}},
		{"seq zero", `{"type":"events","seq":0,"events":[]}`, want{errCode: "invalid_frame", errMatch: "seq must be"}},
		{"seq fraction", `{"type":"events","seq":1.5,"events":[]}`, want{errCode: "invalid_frame", errMatch: "seq must be"}},
		{"seq string", `{"type":"events","seq":"1","events":[]}`, want{errCode: "invalid_frame", errMatch: "seq must be"}},
		{"seq too big", `{"type":"events","seq":9007199254740992,"events":[]}`, want{errCode: "invalid_frame", errMatch: "seq must be"}},
		{"events not an array", `{"type":"events","seq":2,"events":{}}`, want{errCode: "invalid_frame", errMatch: "events must be an array", seq: 2}},
		{"no events", `{"type":"events","seq":2}`, want{errCode: "invalid_frame", errMatch: "events must be an array", seq: 2}},
		{"too many events", `{"type":"events","seq":2,"events":[` + strings.Repeat(`{"kind":"nav","t":1,"screen":"s"},`, 4) + `{}]}`,
			want{errCode: "invalid_frame", errMatch: "too many events: 5, at most 4", seq: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			max := 16
			if tt.name == "too many events" {
				max = 4
			}
			d := newWSDecoder(wsTestKey, max)
			var f wsFrame
			err := d.decode([]byte(tt.frame), &f)
			if tt.want.errCode != "" {
				if err == nil {
					t.Fatalf("decoded; want %s error", tt.want.errCode)
				}
				if err.code != tt.want.errCode || !strings.Contains(err.msg, tt.want.errMatch) || err.seq != tt.want.seq {
					t.Fatalf("error %s %q seq %d; want %s containing %q seq %d", err.code, err.msg, err.seq,
						tt.want.errCode, tt.want.errMatch, tt.want.seq)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if f.typ != tt.want.typ || f.seq != tt.want.seq {
				t.Fatalf("type %d seq %d; want %d %d", f.typ, f.seq, tt.want.typ, tt.want.seq)
			}
			if len(f.index) != len(tt.want.good) || len(f.events) != len(f.index) {
				t.Fatalf("good events at %v (%d events); want %v", f.index, len(f.events), tt.want.good)
			}
			for i, idx := range tt.want.good {
				if f.index[i] != idx {
					t.Fatalf("good events at %v; want %v", f.index, tt.want.good)
				}
			}
			if len(f.bad) != len(tt.want.bad) {
				t.Fatalf("bad events %v; want %v", f.bad, tt.want.bad)
			}
			for _, b := range f.bad {
				if w, ok := tt.want.bad[b.index]; !ok || !strings.Contains(b.msg, w) {
					t.Fatalf("bad event %d: %q; want %q", b.index, b.msg, w)
				}
			}
		})
	}
}

func TestWSDecodeValues(t *testing.T) {
	t.Parallel()
	d := newWSDecoder(wsTestKey, 16)
	var f wsFrame
	frame := `{"type":"events","seq":5,"events":[
  {"kind":"key","t":1712.5,"phase":"down","code":"KeyT","field":"password"},
  {"kind":"key","t":1801.25,"phase":"up","code":"KeyT","field":"password"},
  {"kind":"key","t":1900,"phase":"down","code":"KeyU","field":"password"},
  {"kind":"commit","t":2950,"field":"password"},
  {"kind":"pointer","t":3001,"phase":"move","x":120.5,"y":-388,"pressure":0.5,"pointer":"touch"},
  {"kind":"pointer","t":3002,"phase":"up","x":1,"y":2},
  {"kind":"motion","t":3003,"ax":0.1,"ay":9.7,"az":0.3,"gx":0.04,"gy":0.01,"gz":-0.02},
  {"kind":"nav","t":3100,"screen":"transfer"}
]}`
	if err := d.decode([]byte(frame), &f); err != nil {
		t.Fatal(err)
	}
	code := d.hashCode([]byte("KeyT"))
	ev := f.events
	check := func(i int, got, want *enginepb.Event) {
		t.Helper()
		if got.Kind != want.Kind || got.T != want.T || got.Phase != want.Phase || got.Code != want.Code ||
			got.Field != want.Field || got.X != want.X || got.Y != want.Y || got.Pressure != want.Pressure ||
			got.Pointer != want.Pointer || got.Ax != want.Ax || got.Ay != want.Ay || got.Az != want.Az ||
			got.Gx != want.Gx || got.Gy != want.Gy || got.Gz != want.Gz || got.Screen != want.Screen {
			t.Fatalf("event %d = %v; want %v", i, got, want)
		}
	}
	check(0, ev[0], &enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_KEY, T: 1712.5, Phase: enginepb.Phase_PHASE_DOWN, Code: code, Field: "password"})
	check(1, ev[1], &enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_KEY, T: 1801.25, Phase: enginepb.Phase_PHASE_UP, Code: code, Field: "password"})
	if ev[2].Code == code || ev[2].Code == 0 {
		t.Fatalf("KeyU hashed like KeyT or to 0: %d", ev[2].Code)
	}
	check(3, ev[3], &enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_COMMIT, T: 2950, Field: "password"})
	check(4, ev[4], &enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_POINTER, T: 3001, Phase: enginepb.Phase_PHASE_MOVE, X: 120.5, Y: -388, Pressure: 0.5, Pointer: "touch"})
	check(5, ev[5], &enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_POINTER, T: 3002, Phase: enginepb.Phase_PHASE_UP, X: 1, Y: 2})
	check(6, ev[6], &enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_MOTION, T: 3003, Ax: 0.1, Ay: 9.7, Az: 0.3, Gx: 0.04, Gy: 0.01, Gz: -0.02})
	check(7, ev[7], &enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_NAV, T: 3100, Screen: "transfer"})

	// A reused event keeps nothing of its previous use.
	if err := d.decode([]byte(`{"type":"events","seq":6,"events":[{"kind":"commit","t":9,"field":"otp"}]}`), &f); err != nil {
		t.Fatal(err)
	}
	check(0, f.events[0], &enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_COMMIT, T: 9, Field: "otp"})
	if f.events[0] != ev[0] {
		t.Fatal("events are not reused between messages")
	}
	// After abandon, the next decode does not touch the events handed out before.
	held := f.events[0]
	d.abandon()
	if err := d.decode([]byte(`{"type":"events","seq":7,"events":[{"kind":"nav","t":10,"screen":"x"}]}`), &f); err != nil {
		t.Fatal(err)
	}
	if f.events[0] == held || held.Field != "otp" {
		t.Fatal("an abandoned event was reused")
	}
}

func TestWSKeyHash(t *testing.T) {
	t.Parallel()
	a := newWSDecoder(wsTestKey, 1)
	b := newWSDecoder(wsTestKey, 1) // another connection, or another node with the same key
	other := newWSDecoder([]byte("another cluster's key 0123456789"), 1)
	for _, code := range []string{"KeyA", "Enter", "h1a2b3c4d", "é"} {
		x, y := a.hashCode([]byte(code)), b.hashCode([]byte(code))
		if x != y {
			t.Fatalf("%q hashes differently under the same key", code)
		}
		if x == other.hashCode([]byte(code)) {
			t.Fatalf("%q hashes alike under different keys", code)
		}
		if a.hashCode([]byte(code)) != x {
			t.Fatalf("%q: cached hash differs", code)
		}
	}
	if a.hashCode([]byte("KeyA")) == a.hashCode([]byte("KeyB")) {
		t.Fatal("KeyA and KeyB collide")
	}
	// The cache is bounded; past it, hashes are still right.
	for i := 0; i < wsCodeCacheCap+10; i++ {
		a.hashCode([]byte{byte(i), byte(i >> 8), 'k'})
	}
	if len(a.codes) > wsCodeCacheCap {
		t.Fatalf("code cache grew to %d", len(a.codes))
	}
	if a.hashCode([]byte("zzz-new")) != b.hashCode([]byte("zzz-new")) {
		t.Fatal("hash past the cache bound differs")
	}
}

func TestWSEncode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"ack", wsAppendAck(nil, 12), `{"type":"ack","seq":12}`},
		{"pong", wsAppendPong(nil), `{"type":"pong"}`},
		{"error of an event", wsAppendError(nil, "invalid_event", `event 2: "x" <bad>`, 12, 2),
			`{"type":"error","code":"invalid_event","message":"event 2: \"x\" <bad>","seq":12,"index":2}`},
		{"error of a frame", wsAppendError(nil, "invalid_frame", "frame is not valid JSON\n", 0, -1),
			`{"type":"error","code":"invalid_frame","message":"frame is not valid JSON\n"}`},
		{"scored decision", wsAppendDecision(nil, &enginepb.Decision{Seq: 4, EventSeq: 12, Action: "allow", Risk: 0.07,
			Mode: "scoring", Sample: &enginepb.Sample{Field: "password", Modality: "keystroke", Status: "scored", Risk: 0.04, HasRisk: true},
			Reasons: []string{"keystroke_timing_close"}, LatencyUs: 410}),
			`{"type":"decision","seq":12,"decision_seq":4,"action":"allow","risk":0.07,"mode":"scoring","sample":{"field":"password","modality":"keystroke","status":"scored","risk":0.04},"reasons":["keystroke timing close to profile"],"reason_codes":["keystroke_timing_close"],"latency_us":410}`},
		{"enrolled decision has no sample risk", wsAppendDecision(nil, &enginepb.Decision{Seq: 1, EventSeq: 2, Action: "allow",
			Mode: "enrolling", Sample: &enginepb.Sample{Field: "pin", Modality: "keystroke", Status: "enrolled", HasRisk: true, Risk: 0.3}}),
			`{"type":"decision","seq":2,"decision_seq":1,"action":"allow","risk":0,"mode":"enrolling","sample":{"field":"pin","modality":"keystroke","status":"enrolled"},"reasons":[],"reason_codes":[],"latency_us":0}`},
		{"decision without a sample, odd risk", wsAppendDecision(nil, &enginepb.Decision{Seq: 9, EventSeq: 3, Action: "block",
			Risk: 1.5, Mode: "scoring", Sample: &enginepb.Sample{}, Reasons: []string{"challenge_expired"}}),
			`{"type":"decision","seq":3,"decision_seq":9,"action":"block","risk":1,"mode":"scoring","reasons":["step-up not answered in time"],"reason_codes":["challenge_expired"],"latency_us":0}`},
		{"free text sample has no field", wsAppendDecision(nil, &enginepb.Decision{Seq: 2, EventSeq: 2, Action: "allow",
			Risk: 0.123456789, Mode: "scoring", Sample: &enginepb.Sample{Modality: "free_text", Status: "rejected"}}),
			`{"type":"decision","seq":2,"decision_seq":2,"action":"allow","risk":0.123457,"mode":"scoring","sample":{"modality":"free_text","status":"rejected"},"reasons":[],"reason_codes":[],"latency_us":0}`},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.got, tt.want)
		}
		if !json.Valid(tt.got) {
			t.Errorf("%s: not valid JSON: %s", tt.name, tt.got)
		}
	}
}

func TestWSAppendString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `q"b\s`, "tab\tnl\ncr\r\x00\x1f", "é ü 😀", "bad \xff utf8", "js \u2028 \u2029", "<&>"} {
		b := wsAppendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q -> %s: %v", s, b, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if got != want {
			t.Fatalf("%q -> %s -> %q", s, b, got)
		}
		if strings.ContainsAny(string(b), "\u2028\u2029") {
			t.Fatalf("%q: line separators left raw: %s", s, b)
		}
	}
}

func TestWSBucket(t *testing.T) {
	t.Parallel()
	b := newWSBucket(10, 3)
	now := wsTestTime(0)
	for i := 0; i < 3; i++ {
		if !b.allow(now) {
			t.Fatalf("burst message %d refused", i)
		}
	}
	if b.allow(now) {
		t.Fatal("a message over the burst was allowed")
	}
	if !b.allow(wsTestTime(100)) { // 100 ms at 10/s refills one
		t.Fatal("refill not allowed")
	}
	if b.allow(wsTestTime(110)) {
		t.Fatal("allowed before the next refill")
	}
	if !b.allow(wsTestTime(10_000)) || !b.allow(wsTestTime(10_000)) || !b.allow(wsTestTime(10_000)) || b.allow(wsTestTime(10_000)) {
		t.Fatal("a long pause refills the burst and no more")
	}
}

func TestWSToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		auth       string
		protocols  string
		token      string
		wantStatus int
	}{
		{"bearer header", "Bearer abc.def", "", "abc.def", 0},
		{"bearer header, any case, spaces", "bearer   abc ", "", "abc", 0},
		{"header wins over subprotocol", "Bearer h", "behavior.v1, bearer.p", "h", 0},
		{"subprotocol", "", "behavior.v1, bearer.tok.en-_x", "tok.en-_x", 0},
		{"subprotocol, token first", "", "bearer.t, behavior.v1", "t", 0},
		{"basic scheme", "Basic dXNlcjpwYXNz", "", "", 401},
		{"bearer without token", "Bearer ", "", "", 401},
		{"nothing", "", "", "", 401},
		{"subprotocol without token", "", "behavior.v1", "", 401},
		{"empty bearer subprotocol", "", "behavior.v1, bearer.", "", 401},
		{"token without behavior.v1", "", "bearer.t", "", 400},
	}
	for _, tt := range tests {
		r := wsTestRequest(tt.auth, tt.protocols)
		tok, werr := wsToken(r)
		switch {
		case tt.wantStatus == 0 && (werr != nil || tok != tt.token):
			t.Errorf("%s: token %q, err %v; want %q", tt.name, tok, werr, tt.token)
		case tt.wantStatus != 0 && (werr == nil || werr.Status() != tt.wantStatus):
			t.Errorf("%s: token %q, err %v; want status %d", tt.name, tok, werr, tt.wantStatus)
		}
	}
}

func TestWSOrigin(t *testing.T) {
	t.Parallel()
	h := &wsHub{origins: []string{"http://localhost:8080", "https://bank.example"}}
	for origin, want := range map[string]bool{
		"": true, "http://localhost:8080": true, "https://bank.example/": true, "HTTPS://BANK.EXAMPLE": true,
		"https://evil.example": false, "http://localhost:8081": false, "null": false, "https://bank.example.evil": false,
	} {
		if got := h.originAllowed(origin); got != want {
			t.Errorf("origin %q allowed %v; want %v", origin, got, want)
		}
	}
	h.anyOrigin = true
	if !h.originAllowed("https://evil.example") {
		t.Error(`"*" did not allow any origin`)
	}
}

func TestWSValidID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"3f2b8c1e-9a4d-4c2b-8f1e-2d3c4b5a6f70": true, "abc_DEF-123": true,
		"a b": false, "a/b": false, "é": false, strings.Repeat("a", 65): false, strings.Repeat("a", 64): true,
	} {
		if got := wsValidID(id); got != want {
			t.Errorf("wsValidID(%q) = %v; want %v", id, got, want)
		}
	}
}

func wsTestTime(ms int64) time.Time {
	return time.Unix(1_700_000_000, 0).Add(time.Duration(ms) * time.Millisecond)
}

func wsTestRequest(authorization, protocols string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/ws?session_id=s", nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	if protocols != "" {
		r.Header.Set("Sec-WebSocket-Protocol", protocols)
	}
	return r
}

func TestParseNumber(t *testing.T) {
	tests := []string{
		"0", "-0", "1", "-1", "1234.5", "0.1", "0.3", "-12.345", "123456789012345", "1234567890123456",
		"12345678.9012345", "0.000000000000001", "9007199254740993", "1e3", "1.5E-7", "-2.5e+10",
		"99999999999999.9", "4.35", "1761134567.891", "0.000001", "00012", "1.000000000000000000001",
	}
	for _, in := range tests {
		t.Run(in, func(t *testing.T) {
			want, werr := strconv.ParseFloat(in, 64)
			got, err := parseNumber([]byte(in))
			if (err != nil) != (werr != nil) || math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("parseNumber(%q) = %v, %v; strconv gives %v, %v", in, got, err, want, werr)
			}
		})
	}
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"0", "-1.5", "1234.5", "1e3", "123456789012345.6"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		want, werr := strconv.ParseFloat(in, 64)
		if werr != nil {
			return // the decoder only hands over what readNumber accepted, which strconv parses
		}
		got, err := parseNumber([]byte(in))
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseNumber(%q) = %v, %v; strconv gives %v", in, got, err, want)
		}
	})
}
