package transport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/behaviorauth/engine/actors/enginepb"
)

// A small JSON Schema checker, enough for ws_schema.json: $ref to $defs, type, const, enum, properties,
// required, additionalProperties (boolean), items, min/maxItems, minimum/maximum, min/maxLength, pattern, oneOf. The
// schema may use no other constraint keyword (TestWSSchemaKeywords), so nothing it says goes unchecked.

var wsSchemaAnnotations = map[string]bool{"$schema": true, "$id": true, "title": true, "description": true, "$defs": true}

var wsSchemaConstraints = map[string]bool{"$ref": true, "type": true, "const": true, "enum": true, "properties": true,
	"required": true, "additionalProperties": true, "items": true, "minItems": true, "maxItems": true, "minimum": true,
	"maximum": true, "minLength": true, "maxLength": true, "pattern": true, "oneOf": true}

var wsSchemaOnce = sync.OnceValues(func() (map[string]any, error) {
	b, err := os.ReadFile("ws_schema.json")
	if err != nil {
		return nil, err
	}
	var s map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("ws_schema.json: %w", err)
	}
	return s, nil
})

// validateWSMessage checks one message against the schema's $defs entry def ("clientMessage", "serverMessage").
func validateWSMessage(tb testing.TB, def string, frame []byte) {
	tb.Helper()
	if err := checkWSMessage(def, frame); err != nil {
		tb.Errorf("%s %s: %v", def, frame, err)
	}
}

func checkWSMessage(def string, frame []byte) error {
	root, err := wsSchemaOnce()
	if err != nil {
		return err
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(frame))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return wsCheck(root, map[string]any{"$ref": "#/$defs/" + def}, v, "$")
}

func wsCheck(root, s map[string]any, v any, at string) error {
	if ref, ok := s["$ref"].(string); ok {
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		defs, _ := root["$defs"].(map[string]any)
		target, found := defs[name].(map[string]any)
		if !ok || !found {
			return fmt.Errorf("%s: unresolvable $ref %q", at, ref)
		}
		if err := wsCheck(root, target, v, at); err != nil {
			return err
		}
	}
	if t, ok := s["type"].(string); ok && !wsIsType(t, v) {
		return fmt.Errorf("%s: %v is not of type %s", at, v, t)
	}
	if c, ok := s["const"]; ok && !wsEqual(c, v) {
		return fmt.Errorf("%s: %v is not %v", at, v, c)
	}
	if e, ok := s["enum"].([]any); ok {
		found := false
		for _, c := range e {
			found = found || wsEqual(c, v)
		}
		if !found {
			return fmt.Errorf("%s: %v is not one of %v", at, v, e)
		}
	}
	if alts, ok := s["oneOf"].([]any); ok {
		var matched int
		var errs []string
		for _, a := range alts {
			if err := wsCheck(root, a.(map[string]any), v, at); err != nil {
				errs = append(errs, err.Error())
			} else {
				matched++
			}
		}
		if matched != 1 {
			return fmt.Errorf("%s: matches %d of oneOf (want 1): %s", at, matched, strings.Join(errs, "; "))
		}
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := x[r.(string)]; !ok {
					return fmt.Errorf("%s: %s is required", at, r)
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				if err := wsCheck(root, ps, x[k], at+"."+k); err != nil {
					return err
				}
			} else if ap, ok := s["additionalProperties"].(bool); ok && !ap {
				return fmt.Errorf("%s: property %s is not in the schema", at, k)
			}
		}
	case []any:
		if n, ok := wsNum(s["minItems"]); ok && float64(len(x)) < n {
			return fmt.Errorf("%s: %d items, fewer than %v", at, len(x), n)
		}
		if n, ok := wsNum(s["maxItems"]); ok && float64(len(x)) > n {
			return fmt.Errorf("%s: %d items, more than %v", at, len(x), n)
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, it := range x {
				if err := wsCheck(root, items, it, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case string:
		n := float64(len([]rune(x)))
		if m, ok := wsNum(s["minLength"]); ok && n < m {
			return fmt.Errorf("%s: shorter than %v", at, m)
		}
		if m, ok := wsNum(s["maxLength"]); ok && n > m {
			return fmt.Errorf("%s: longer than %v", at, m)
		}
		if p, ok := s["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("%s: pattern %q: %w", at, p, err)
			}
			if !re.MatchString(x) {
				return fmt.Errorf("%s: %q does not match %s", at, x, p)
			}
		}
	case json.Number:
		f, _ := x.Float64()
		if m, ok := wsNum(s["minimum"]); ok && f < m {
			return fmt.Errorf("%s: %v below %v", at, f, m)
		}
		if m, ok := wsNum(s["maximum"]); ok && f > m {
			return fmt.Errorf("%s: %v above %v", at, f, m)
		}
	}
	return nil
}

func wsNum(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func wsIsType(t string, v any) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, err := n.Float64()
		return err == nil && f == math.Trunc(f)
	}
	return false
}

func wsEqual(a, b any) bool {
	if x, ok := a.(json.Number); ok {
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		fx, _ := x.Float64()
		fy, _ := y.Float64()
		return fx == fy
	}
	return a == b
}

// TestWSSchemaKeywords keeps the schema within what the checker enforces.
func TestWSSchemaKeywords(t *testing.T) {
	t.Parallel()
	root, err := wsSchemaOnce()
	if err != nil {
		t.Fatal(err)
	}
	var walk func(s map[string]any, at string)
	walk = func(s map[string]any, at string) {
		for k, v := range s {
			switch {
			case wsSchemaAnnotations[k] || strings.HasPrefix(k, "x-"):
			case !wsSchemaConstraints[k]:
				t.Errorf("%s: keyword %q is not checked by the tests", at, k)
			}
			switch k {
			case "properties", "$defs":
				for name, sub := range v.(map[string]any) {
					walk(sub.(map[string]any), at+"/"+k+"/"+name)
				}
			case "items":
				walk(v.(map[string]any), at+"/items")
			case "oneOf":
				for i, sub := range v.([]any) {
					walk(sub.(map[string]any), fmt.Sprintf("%s/oneOf/%d", at, i))
				}
			}
		}
	}
	walk(root, "#")
	for _, def := range []string{"clientMessage", "serverMessage"} {
		if _, ok := root["$defs"].(map[string]any)[def]; !ok {
			t.Errorf("$defs/%s missing", def)
		}
	}
}

// TestWSSchemaServerFrames validates every shape of frame the encoders write.
func TestWSSchemaServerFrames(t *testing.T) {
	t.Parallel()
	frames := [][]byte{
		wsAppendAck(nil, 1),
		wsAppendPong(nil),
		wsAppendError(nil, "invalid_event", "event 3: kind is required", 7, 3),
		wsAppendError(nil, "invalid_frame", "frame is not valid JSON (at byte 0)", 0, -1),
		wsAppendError(nil, "invalid_type", "unknown type", 2, -1),
		wsAppendError(nil, "invalid_seq", "expected seq 3 (resend the missing messages first)", 5, -1),
		wsAppendError(nil, "unavailable", "the session did not answer in time; send the message again", 5, -1),
		wsAppendDecision(nil, &enginepb.Decision{Seq: 1, EventSeq: 1, Action: "allow", Mode: "enrolling",
			Sample: &enginepb.Sample{Field: "password", Modality: "keystroke", Status: "enrolled"}, Reasons: []string{"not_enough_evidence"}, LatencyUs: 300}),
		wsAppendDecision(nil, &enginepb.Decision{Seq: 2, EventSeq: 4, Action: "challenge", Risk: 0.7, Mode: "scoring",
			Sample: &enginepb.Sample{Field: "password", Modality: "keystroke", Status: "scored", Risk: 0.9, HasRisk: true}, LatencyUs: 900}),
		wsAppendDecision(nil, &enginepb.Decision{Seq: 3, EventSeq: 5, Action: "allow", Risk: 0.1, Mode: "degraded",
			Sample: &enginepb.Sample{Modality: "free_text", Status: "rejected"}, Reasons: []string{"profile_unreachable"}}),
		wsAppendDecision(nil, &enginepb.Decision{Seq: 4, EventSeq: 0, Action: "block", Risk: 0.95, Mode: "scoring",
			Sample: &enginepb.Sample{}, Reasons: []string{"challenge_expired"}}),
	}
	for _, f := range frames {
		validateWSMessage(t, "serverMessage", f)
	}
	// The checker does refuse what the schema does not describe.
	for _, bad := range []string{
		`{"type":"ack"}`, `{"type":"ack","seq":"1"}`, `{"type":"ack","seq":1,"extra":true}`, `{"type":"pong","x":1}`,
		`{"type":"error","code":"oops","message":"m"}`, `{"type":"decision","seq":1}`, `{"type":"hello"}`,
		`{"type":"decision","seq":1,"decision_seq":1,"action":"allow","risk":2,"mode":"scoring","reasons":[],"reason_codes":[],"latency_us":0}`,
	} {
		if err := checkWSMessage("serverMessage", []byte(bad)); err == nil {
			t.Errorf("schema accepts %s", bad)
		}
	}
}

// TestWSSchemaClientFrames holds the schema and the decoder in agreement on the seed corpus: what the decoder
// takes whole, the schema accepts; what the schema accepts, the decoder takes whole.
func TestWSSchemaClientFrames(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/fuzz/FuzzDecodeFrame/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("seed corpus: %v (%d files)", err, len(files))
	}
	extra := []string{
		`{"type":"events","seq":1,"events":[{"kind":"key","t":1,"phase":"move","code":"a","field":"f"}]}`,
		`{"type":"events","seq":1,"events":[{"kind":"pointer","t":1,"phase":"down","x":1,"y":1,"pointer":"stylus"}]}`,
		`{"type":"events","seq":1,"events":[{"kind":"motion","t":1,"ax":1,"ay":1}]}`,
		`{"type":"events","seq":1,"events":[{"kind":"nav","t":1,"screen":""}]}`,
		`{"type":"events","seq":0,"events":[]}`,
		`{"type":"ping","seq":1}`,
	}
	inputs := map[string][]byte{}
	for _, f := range files {
		data, err := wsReadSeed(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(f)] = data
	}
	for i, s := range extra {
		inputs[fmt.Sprintf("extra %d", i)] = []byte(s)
	}
	accepted := 0
	for name, data := range inputs {
		if !utf8.Valid(data) || jsonDepth(data) > wsMaxDepth {
			// Invalid UTF-8 (no longer visible once parsed) and nesting deeper than the decoder takes are beyond
			// what a schema says; the decoder refuses both (TestWSDecodeFrame).
			continue
		}
		d := newWSDecoder(wsTestKey, 512)
		var fr wsFrame
		whole := d.decode(data, &fr) == nil && len(fr.bad) == 0
		schemaOK := checkWSMessage("clientMessage", data) == nil
		if whole != schemaOK {
			t.Errorf("%s: decoder takes it whole: %v; schema accepts it: %v (%v)", name, whole, schemaOK,
				checkWSMessage("clientMessage", data))
		}
		if whole {
			accepted++
		}
	}
	if accepted < 5 {
		t.Fatalf("only %d inputs accepted: the test checks little", accepted)
	}
}

// wsReadSeed reads a `go test fuzz v1` file holding one []byte.
func wsReadSeed(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	_, rest, ok := strings.Cut(string(b), "\n")
	lit, ok2 := strings.CutPrefix(strings.TrimSpace(rest), "[]byte(")
	lit, ok3 := strings.CutSuffix(lit, ")")
	if !ok || !ok2 || !ok3 {
		return nil, fmt.Errorf("%s: not a []byte seed", path)
	}
	s, err := strconv.Unquote(lit)
	return []byte(s), err
}
