// Package loadgen drives a behaviord node (or a bare echo server, for the machine's ceiling) the way real clients
// do: it registers and logs users in over REST, opens their behavioral sessions, and streams keystroke and pointer
// traffic over the WebSocket protocol of PROTOCOL.md, measuring throughput and decision latency.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// APIError is a non-2xx answer of the REST API.
type APIError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	// RetryAfter is how long the server asked the client to wait (Retry-After of a 429, retry_after_s of a 423).
	RetryAfter time.Duration `json:"-"`
	// RetryAfterS is the body's retry_after_s.
	RetryAfterS int `json:"retry_after_s"`
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// client is a small REST client of PROTOCOL.md.
type client struct {
	base string
	http *http.Client
}

func newClient(base string) *client {
	return &client{base: base, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0},
	}}
}

func (c *client) do(ctx context.Context, method, path, bearer string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error APIError `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		e.Error.Status = resp.StatusCode
		e.Error.RetryAfter = time.Duration(e.Error.RetryAfterS) * time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			e.Error.RetryAfter = time.Duration(s) * time.Second
		}
		return &e.Error
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

// session is one logged-in user's live behavioral session.
type session struct {
	UserID       string
	SessionID    string `json:"session_id"`
	SessionToken string `json:"session_token"`
}

// phoneOf returns a valid Indian mobile number in E.164 form for user i of run prefix p (0..99).
func phoneOf(p, i int) string {
	return "+919" + fmt.Sprintf("%02d", p%100) + fmt.Sprintf("%07d", i%10_000_000)
}

// openSession registers the user if needed, logs in and verifies the MPIN.
func (c *client) openSession(ctx context.Context, phone, password, mpin string) (session, error) {
	err := c.do(ctx, "POST", "/v1/auth/register", "", map[string]string{"phone": phone, "password": password, "mpin": mpin, "name": "load"}, nil)
	var ae *APIError
	if err != nil && !(errors.As(err, &ae) && ae.Status == http.StatusConflict) {
		return session{}, fmt.Errorf("register: %w", err)
	}
	var tok struct {
		UserID      string `json:"user_id"`
		AccessToken string `json:"access_token"`
	}
	if err := c.do(ctx, "POST", "/v1/auth/login", "", map[string]string{"phone": phone, "password": password}, &tok); err != nil {
		return session{}, fmt.Errorf("login: %w", err)
	}
	var s session
	if err := c.do(ctx, "POST", "/v1/auth/mpin/verify", tok.AccessToken, map[string]string{"mpin": mpin}, &s); err != nil {
		return session{}, fmt.Errorf("mpin verify: %w", err)
	}
	s.UserID = tok.UserID
	return s, nil
}

// user is one simulated user's credentials, the same in every run of a prefix.
type user struct {
	phone, password, mpin string
}

// loadMPIN is every simulated user's MPIN: the one setup registers and a step-up answers with.
const loadMPIN = "480917"

// userOf returns user i of run prefix p.
func userOf(p, i int) user {
	return user{phone: phoneOf(p, i), password: "load-test-password-" + strconv.Itoa(i), mpin: loadMPIN}
}

// answerChallenge answers the session's step-up with the user's MPIN, as the genuine owner would.
func (c *client) answerChallenge(ctx context.Context, s session, mpin string) error {
	var out struct {
		State string `json:"state"`
	}
	if err := c.do(ctx, "POST", "/v1/sessions/"+s.SessionID+"/challenge", s.SessionToken, map[string]string{"mpin": mpin}, &out); err != nil {
		return fmt.Errorf("step-up: %w", err)
	}
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
