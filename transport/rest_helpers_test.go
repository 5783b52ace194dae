package transport_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/node/nodetest"
)

// api drives a node's REST API over real HTTP.
type api struct {
	tb   testing.TB
	base string
	hc   *http.Client
}

func newAPI(tb testing.TB, base string) *api {
	return &api{tb: tb, base: base, hc: &http.Client{Timeout: 30 * time.Second}}
}

// reply is one HTTP answer, its body read.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// wireErr is the error envelope of PROTOCOL.md.
type wireErr struct {
	Error struct {
		Code        string `json:"code"`
		Message     string `json:"message"`
		Field       string `json:"field"`
		RetryAfterS int    `json:"retry_after_s"`
	} `json:"error"`
}

// req is one request: Body is JSON-encoded unless it is a string or []byte (sent as is); ContentType defaults to
// application/json when there is a body.
type req struct {
	Method      string
	Path        string
	Token       string
	Body        any
	ContentType string
	Header      map[string]string
}

func (a *api) send(r req) reply {
	a.tb.Helper()
	var body io.Reader
	ct := r.ContentType
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	case io.Reader:
		body = b
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			a.tb.Fatalf("encode body: %v", err)
		}
		body = bytes.NewReader(enc)
	}
	if body != nil && ct == "" {
		ct = "application/json"
	}
	hr, err := http.NewRequest(r.Method, a.base+r.Path, body)
	if err != nil {
		a.tb.Fatalf("new request: %v", err)
	}
	if ct != "-" && ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	if r.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for k, v := range r.Header {
		hr.Header.Set(k, v)
	}
	resp, err := a.hc.Do(hr)
	if err != nil {
		a.tb.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		a.tb.Fatalf("%s %s: read body: %v", r.Method, r.Path, err)
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

func (a *api) post(path, token string, body any) reply {
	a.tb.Helper()
	return a.send(req{Method: http.MethodPost, Path: path, Token: token, Body: body})
}

func (a *api) get(path, token string) reply {
	a.tb.Helper()
	return a.send(req{Method: http.MethodGet, Path: path, Token: token})
}

// decode decodes the body into v, failing the test unless the status is want.
func (r reply) decode(tb testing.TB, want int, v any) {
	tb.Helper()
	if r.Status != want {
		tb.Fatalf("status %d, want %d; body %s", r.Status, want, r.Body)
	}
	if v == nil {
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Fatalf("Content-Type %q", ct)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.Body, err)
	}
}

// wantError checks an error answer: its status, its envelope's code and (when not "") its field. It returns the
// envelope.
func (r reply) wantError(tb testing.TB, status int, code, field string) wireErr {
	tb.Helper()
	var e wireErr
	if r.Status != status {
		tb.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		tb.Fatalf("error body %q: %v", r.Body, err)
	}
	if e.Error.Code != code || e.Error.Message == "" {
		tb.Fatalf("error %+v, want code %q and a message", e.Error, code)
	}
	if field != "" && e.Error.Field != field {
		tb.Fatalf("error field %q, want %q (%+v)", e.Error.Field, field, e.Error)
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		tb.Fatalf("401 without WWW-Authenticate: Bearer")
	}
	return e
}

// Wire bodies the tests read.
type tokens struct {
	UserID       string `json:"user_id"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
}

type grant struct {
	SessionID    string `json:"session_id"`
	SessionToken string `json:"session_token"`
	ExpiresAt    string `json:"expires_at"`
	WSURL        string `json:"ws_url"`
}

type sessionStatus struct {
	SessionID string           `json:"session_id"`
	UserID    string           `json:"user_id"`
	State     string           `json:"state"`
	Risk      float64          `json:"risk"`
	Events    int64            `json:"events"`
	Samples   int64            `json:"samples"`
	Decisions []map[string]any `json:"decisions"`
	Node      string           `json:"node"`
}

type summary struct {
	SessionID string  `json:"session_id"`
	Events    int64   `json:"events"`
	Samples   int64   `json:"samples"`
	Decisions int64   `json:"decisions"`
	FinalRisk float64 `json:"final_risk"`
	EndedAt   string  `json:"ended_at"`
}

// user is a registered test user.
type user struct {
	ID, Phone, Password, MPIN string
}

const (
	testPassword = "correct horse battery"
	testMPIN     = "482916"
	wrongMPIN    = "739204"
)

var phoneSeq atomic.Int64

// newPhone returns a valid Indian mobile number not used before in this process (mobile numbers there start
// with 6 to 9; every test node has a database of its own).
func newPhone() string {
	return fmt.Sprintf("+9198%08d", phoneSeq.Add(1))
}

func (a *api) register(tb testing.TB) user {
	tb.Helper()
	u := user{Phone: newPhone(), Password: testPassword, MPIN: testMPIN}
	var out struct {
		UserID string `json:"user_id"`
	}
	a.post("/v1/auth/register", "", map[string]string{"phone": u.Phone, "password": u.Password, "mpin": u.MPIN}).
		decode(tb, http.StatusCreated, &out)
	if _, err := uuid.Parse(out.UserID); err != nil {
		tb.Fatalf("user_id %q: %v", out.UserID, err)
	}
	u.ID = out.UserID
	return u
}

func (a *api) login(tb testing.TB, u user) tokens {
	tb.Helper()
	var t tokens
	a.post("/v1/auth/login", "", map[string]string{"phone": u.Phone, "password": u.Password}).decode(tb, http.StatusOK, &t)
	return t
}

func (a *api) verify(tb testing.TB, access, mpin string) grant {
	tb.Helper()
	var g grant
	a.post("/v1/auth/mpin/verify", access, map[string]string{"mpin": mpin}).decode(tb, http.StatusCreated, &g)
	return g
}

// generous lifts the auth rate limits far above what a test sends, so that lockouts and not rate limits are
// what a test observes.
func generous(cfg *config.Config) {
	cfg.Auth.RatePerAddress = 100000
	cfg.Auth.RatePerAccount = 100000
}

func startNode(tb testing.TB, mutate func(*config.Config)) (*nodetest.Node, *api) {
	tb.Helper()
	n := nodetest.Start(tb, mutate)
	return n, newAPI(tb, n.URL)
}
