package transport

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/behaviorauth/engine/config"
)

func TestDecodeBody(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		ok    bool
		field string
	}{
		{"valid", `{"session_id":"s","label":"fraud","decision_seq":3}`, true, ""},
		{"valid with white space", " \n{\"label\":\"genuine\"}\n\t", true, ""},
		{"empty object", `{}`, true, ""},
		{"empty body", ``, false, ""},
		{"only white space", "  \n ", false, ""},
		{"null", `null`, false, ""},
		{"array", `[{"label":"fraud"}]`, false, ""},
		{"string", `"x"`, false, ""},
		{"unknown field", `{"label":"fraud","admin":true}`, false, "admin"},
		{"unknown field case-folded is still known", `{"LABEL":"fraud"}`, true, ""},
		{"wrong type names the field", `{"decision_seq":"twelve"}`, false, "decision_seq"},
		{"fraction where integer", `{"decision_seq":1.5}`, false, "decision_seq"},
		{"malformed", `{"label":}`, false, ""},
		{"truncated", `{"label":"fraud"`, false, ""},
		{"trailing garbage", `{"label":"fraud"} x`, false, ""},
		{"two objects", `{"label":"fraud"}{"label":"genuine"}`, false, ""},
		{"trailing comma", `{"label":"fraud",}`, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var dst feedbackRequest
			err := decodeBody([]byte(tc.body), &dst)
			if (err == nil) != tc.ok {
				t.Fatalf("decodeBody(%q) = %v, want ok=%v", tc.body, err, tc.ok)
			}
			if err == nil {
				return
			}
			var we *WireError
			if !errors.As(err, &we) || we.Status() != http.StatusBadRequest || we.Code != "invalid_request" {
				t.Fatalf("error %v is not a 400 invalid_request", err)
			}
			if we.Field != tc.field {
				t.Fatalf("field %q, want %q", we.Field, tc.field)
			}
		})
	}
}

func TestReadJSONBody(t *testing.T) {
	const limit = 64
	tests := []struct {
		name        string
		contentType string
		body        string
		noLength    bool // stream the body, so only the reader's limit can catch it
		status      int  // 0: accepted
	}{
		{"json", "application/json", `{"mpin":"482916"}`, false, 0},
		{"json with charset", "application/json; charset=UTF-8", `{"mpin":"482916"}`, false, 0},
		{"missing content type", "", `{"mpin":"482916"}`, false, 400},
		{"text/plain", "text/plain", `{"mpin":"482916"}`, false, 400},
		{"form", "application/x-www-form-urlencoded", `mpin=482916`, false, 400},
		{"other charset", "application/json; charset=latin1", `{"mpin":"482916"}`, false, 400},
		{"unparsable content type", "application/json; ;;", `{"mpin":"482916"}`, false, 400},
		{"over the limit, declared", "application/json", `{"mpin":"` + strings.Repeat("1", limit) + `"}`, false, 413},
		{"over the limit, streamed", "application/json", `{"mpin":"` + strings.Repeat("1", limit) + `"}`, true, 413},
		{"white space past the limit", "application/json", `{"mpin":"1"}` + strings.Repeat(" ", limit), true, 413},
		{"exactly the limit", "application/json", `{"mpin":"` + strings.Repeat("1", limit-11) + `"}`, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body interface{ Read([]byte) (int, error) } = strings.NewReader(tc.body)
			if tc.noLength {
				body = struct{ *bytes.Buffer }{bytes.NewBufferString(tc.body)}
			}
			req := httptest.NewRequest(http.MethodPost, "/v1/x", body)
			if tc.noLength {
				req.ContentLength = -1
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			var dst mpinRequest
			err := readJSONBody(httptest.NewRecorder(), req, limit, &dst)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var we *WireError
			if !errors.As(err, &we) || we.Status() != tc.status {
				t.Fatalf("got %v, want status %d", err, tc.status)
			}
			if tc.status == 413 && we.Code != "too_large" {
				t.Fatalf("code %q, want too_large", we.Code)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bearer abc", "abc", true},
		{"BEARER abc", "abc", true},
		{"Bearer  abc", "abc", true},
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic dXNlcjpwdw==", "", false},
		{"Bearer a b", "", false},
		{"Token abc", "", false},
		{"Bearer " + strings.Repeat("a", maxBearerLen+1), "", false},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		got, err := bearerToken(req)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("bearerToken(%.30q) = %q, %v; want %q ok=%v", tc.header, got, err, tc.want, tc.ok)
		}
		if err != nil && mapError(err).Status() != http.StatusUnauthorized {
			t.Errorf("bearerToken(%.30q) error is not 401", tc.header)
		}
	}
}

func TestCanonicalUUID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", true},
		{"6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", true},
		{"6ba7b8109dad11d180b400c04fd430c8", "", false},
		{"{6ba7b810-9dad-11d1-80b4-00c04fd430c8}", "", false},
		{"6ba7b810-9dad-11d1-80b4-00c04fd430cz", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := canonicalUUID(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("canonicalUUID(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFeedbackValidate(t *testing.T) {
	seq := func(n int64) *int64 { return &n }
	const sid = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	tests := []struct {
		name  string
		req   feedbackRequest
		field string // "" when valid
	}{
		{"session feedback", feedbackRequest{SessionID: sid, Label: "fraud"}, ""},
		{"decision feedback", feedbackRequest{SessionID: sid, Label: "genuine", DecisionSeq: seq(12)}, ""},
		{"missing session", feedbackRequest{Label: "fraud"}, "session_id"},
		{"bad session", feedbackRequest{SessionID: "abc", Label: "fraud"}, "session_id"},
		{"zero seq", feedbackRequest{SessionID: sid, Label: "fraud", DecisionSeq: seq(0)}, "decision_seq"},
		{"negative seq", feedbackRequest{SessionID: sid, Label: "fraud", DecisionSeq: seq(-3)}, "decision_seq"},
		{"missing label", feedbackRequest{SessionID: sid}, "label"},
		{"bad label", feedbackRequest{SessionID: sid, Label: "Fraud"}, "label"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fb, err := tc.req.validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if fb.SessionID != sid || fb.Label != tc.req.Label {
					t.Fatalf("feedback %+v", fb)
				}
				return
			}
			if we := mapError(err); we.Status() != 400 || we.Field != tc.field {
				t.Fatalf("got %v (field %q), want 400 on %q", err, we.Field, tc.field)
			}
		})
	}
}

func TestBoundedGivesEachRequestADeadline(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want time.Duration
	}{
		{"http config", Options{HTTP: config.HTTP{RequestTimeout: 3 * time.Second}, RequestTimeout: time.Minute}, 3 * time.Second},
		{"top-level option", Options{RequestTimeout: 7 * time.Second}, 7 * time.Second},
		{"default", Options{}, defaultRequestTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{opts: tc.opts}
			var left time.Duration
			h := s.bounded(func(_ http.ResponseWriter, r *http.Request) {
				dl, ok := r.Context().Deadline()
				if !ok {
					t.Fatal("no deadline")
				}
				left = time.Until(dl)
			})
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
			if left > tc.want || left < tc.want-time.Second {
				t.Fatalf("deadline in %s, want about %s", left, tc.want)
			}
		})
	}
}

func TestDecodeBodyBoundsAnEchoedFieldName(t *testing.T) {
	long := strings.Repeat("é", 100) // two bytes each: a cut at 64 bytes must not split one
	err := decodeBody([]byte(`{"`+long+`":1}`), &mpinRequest{})
	we := mapError(err)
	if we.Status() != http.StatusBadRequest || len(we.Field) > maxEchoedField || !strings.HasPrefix(long, we.Field) ||
		we.Field == "" {
		t.Fatalf("field %q (%d bytes), message %q", we.Field, len(we.Field), we.Message)
	}
}
