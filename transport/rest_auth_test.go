package transport_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestRESTAccounts covers the accounts rows of PROTOCOL.md's REST table (register, login, refresh, logout, MPIN
// verify) and their error cases, on one real node.
func TestRESTAccounts(t *testing.T) {
	_, a := startNode(t, generous)

	t.Run("register", func(t *testing.T) {
		u := a.register(t)
		if u.ID == "" {
			t.Fatal("no user id")
		}
		// The optional name is accepted.
		a.post("/v1/auth/register", "", map[string]string{
			"phone": newPhone(), "password": testPassword, "mpin": testMPIN, "name": "Asha Rao",
		}).decode(t, http.StatusCreated, nil)
	})

	t.Run("register validation", func(t *testing.T) {
		valid := func() map[string]any {
			return map[string]any{"phone": newPhone(), "password": testPassword, "mpin": testMPIN}
		}
		with := func(k string, v any) map[string]any { b := valid(); b[k] = v; return b }
		tests := []struct {
			name  string
			r     req
			field string
		}{
			{"phone not E.164", req{Body: with("phone", "9876543210")}, "phone"},
			{"phone invalid for its region", req{Body: with("phone", "+9112345")}, "phone"},
			{"phone missing", req{Body: map[string]any{"password": testPassword, "mpin": testMPIN}}, "phone"},
			{"mpin all the same digit", req{Body: with("mpin", "1111")}, "mpin"},
			{"mpin straight run up", req{Body: with("mpin", "1234")}, "mpin"},
			{"mpin straight run down", req{Body: with("mpin", "654321")}, "mpin"},
			{"mpin five digits", req{Body: with("mpin", "48291")}, "mpin"},
			{"mpin not digits", req{Body: with("mpin", "48a916")}, "mpin"},
			{"unknown field", req{Body: with("role", "admin")}, "role"},
			{"wrong type", req{Body: with("mpin", 482916)}, "mpin"},
			{"malformed JSON", req{Body: `{"phone": "+919876543210", "password":`}, ""},
			{"trailing garbage", req{Body: `{"phone":"+919876543210","password":"correct horse battery","mpin":"482916"} x`}, ""},
			{"not an object", req{Body: `["+919876543210"]`}, ""},
			{"empty body", req{Body: ""}, ""},
			{"wrong content type", req{Body: valid(), ContentType: "text/plain"}, ""},
			{"no content type", req{Body: valid(), ContentType: "-"}, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				tc.r.Method, tc.r.Path = http.MethodPost, "/v1/auth/register"
				a.send(tc.r).wantError(t, http.StatusBadRequest, "invalid_request", tc.field)
			})
		}
	})

	t.Run("register password length", func(t *testing.T) {
		for _, pw := range []string{"", "nine char", strings.Repeat("p", 129)} {
			a.post("/v1/auth/register", "", map[string]string{"phone": newPhone(), "password": pw, "mpin": testMPIN}).
				wantError(t, http.StatusBadRequest, "invalid_request", "password")
		}
		for _, pw := range []string{"ten chars!", strings.Repeat("p", 128)} {
			a.post("/v1/auth/register", "", map[string]string{"phone": newPhone(), "password": pw, "mpin": testMPIN}).
				decode(t, http.StatusCreated, nil)
		}
	})

	t.Run("oversized body", func(t *testing.T) {
		body := `{"phone":"+919876543210","password":"correct horse battery","mpin":"482916","name":"` +
			strings.Repeat("x", 64<<10) + `"}`
		a.post("/v1/auth/register", "", body).wantError(t, http.StatusRequestEntityTooLarge, "too_large", "")
		// Streamed without a length, the reader's limit catches it too.
		r := a.send(req{Method: http.MethodPost, Path: "/v1/auth/login", Body: &chunked{strings.NewReader(body)}})
		r.wantError(t, http.StatusRequestEntityTooLarge, "too_large", "")
	})

	t.Run("duplicate register", func(t *testing.T) {
		u := a.register(t)
		a.post("/v1/auth/register", "", map[string]string{"phone": u.Phone, "password": "another password", "mpin": "583920"}).
			wantError(t, http.StatusConflict, "conflict", "")
	})

	t.Run("login", func(t *testing.T) {
		u := a.register(t)
		tok := a.login(t, u)
		if tok.UserID != u.ID || tok.AccessToken == "" || tok.RefreshToken == "" || tok.ExpiresIn <= 0 {
			t.Fatalf("tokens %+v", tok)
		}
		var with tokens
		a.post("/v1/auth/login", "", map[string]string{"phone": u.Phone, "password": u.Password, "device_id": "pixel-7"}).
			decode(t, http.StatusOK, &with)
		if with.AccessToken == tok.AccessToken || with.RefreshToken == tok.RefreshToken {
			t.Fatal("a second login reused the first one's tokens")
		}
	})

	t.Run("login failures", func(t *testing.T) {
		u := a.register(t)
		wrong := a.post("/v1/auth/login", "", map[string]string{"phone": u.Phone, "password": "wrong password!"})
		unknown := a.post("/v1/auth/login", "", map[string]string{"phone": newPhone(), "password": u.Password})
		ew := wrong.wantError(t, http.StatusUnauthorized, "unauthorized", "")
		eu := unknown.wantError(t, http.StatusUnauthorized, "unauthorized", "")
		if ew.Error.Message != eu.Error.Message {
			t.Fatalf("wrong password (%q) and unknown phone (%q) are told apart", ew.Error.Message, eu.Error.Message)
		}
		a.post("/v1/auth/login", "", map[string]string{"phone": "12345", "password": u.Password}).
			wantError(t, http.StatusBadRequest, "invalid_request", "phone")
		a.post("/v1/auth/login", "", map[string]any{"phone": u.Phone, "password": u.Password, "remember": true}).
			wantError(t, http.StatusBadRequest, "invalid_request", "remember")
	})

	t.Run("refresh rotation", func(t *testing.T) {
		u := a.register(t)
		t1 := a.login(t, u)
		var t2 tokens
		a.post("/v1/auth/refresh", "", map[string]string{"refresh_token": t1.RefreshToken}).decode(t, http.StatusOK, &t2)
		if t2.UserID != u.ID || t2.AccessToken == "" || t2.RefreshToken == t1.RefreshToken || t2.ExpiresIn <= 0 {
			t.Fatalf("rotated tokens %+v", t2)
		}
		// The new access token works, and the new refresh token rotates again.
		a.get("/v1/users/"+u.ID+"/profile", t2.AccessToken).decode(t, http.StatusOK, nil)
		var t3 tokens
		a.post("/v1/auth/refresh", "", map[string]string{"refresh_token": t2.RefreshToken}).decode(t, http.StatusOK, &t3)
		a.get("/v1/users/"+u.ID+"/profile", t3.AccessToken).decode(t, http.StatusOK, nil)
	})

	t.Run("refresh errors", func(t *testing.T) {
		a.post("/v1/auth/refresh", "", map[string]string{"refresh_token": ""}).
			wantError(t, http.StatusBadRequest, "invalid_request", "refresh_token")
		a.post("/v1/auth/refresh", "", map[string]string{"refresh_token": "not-a-token"}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.post("/v1/auth/refresh", "", map[string]string{"refresh_token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "")
	})

	t.Run("refresh reuse revokes the family", func(t *testing.T) {
		u := a.register(t)
		t1 := a.login(t, u)
		g := a.verify(t, t1.AccessToken, u.MPIN)
		var t2 tokens
		a.post("/v1/auth/refresh", "", map[string]string{"refresh_token": t1.RefreshToken}).decode(t, http.StatusOK, &t2)
		a.get("/v1/users/"+u.ID+"/profile", t2.AccessToken).decode(t, http.StatusOK, nil)

		// The spent token again: 401, and the whole login is revoked.
		a.post("/v1/auth/refresh", "", map[string]string{"refresh_token": t1.RefreshToken}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.get("/v1/users/"+u.ID+"/profile", t2.AccessToken).wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.post("/v1/auth/refresh", "", map[string]string{"refresh_token": t2.RefreshToken}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.get("/v1/sessions/"+g.SessionID, g.SessionToken).wantError(t, http.StatusUnauthorized, "unauthorized", "")
		// Another login of the same user is untouched.
		other := a.login(t, u)
		a.get("/v1/users/"+u.ID+"/profile", other.AccessToken).decode(t, http.StatusOK, nil)
	})

	t.Run("logout", func(t *testing.T) {
		u := a.register(t)
		tok := a.login(t, u)
		g := a.verify(t, tok.AccessToken, u.MPIN)
		a.get("/v1/sessions/"+g.SessionID, g.SessionToken).decode(t, http.StatusOK, nil)

		r := a.post("/v1/auth/logout", tok.AccessToken, nil)
		if r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		a.post("/v1/auth/logout", tok.AccessToken, nil).wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.get("/v1/users/"+u.ID+"/profile", tok.AccessToken).wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.post("/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.get("/v1/sessions/"+g.SessionID, g.SessionToken).wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.post("/v1/auth/mpin/verify", tok.AccessToken, map[string]string{"mpin": u.MPIN}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.post("/v1/auth/logout", "", nil).wantError(t, http.StatusUnauthorized, "unauthorized", "")
	})

	t.Run("mpin verify", func(t *testing.T) {
		u := a.register(t)
		tok := a.login(t, u)
		r := a.post("/v1/auth/mpin/verify", tok.AccessToken, map[string]string{"mpin": u.MPIN})
		var g grant
		r.decode(t, http.StatusCreated, &g)
		if _, err := uuid.Parse(g.SessionID); err != nil || g.SessionToken == "" || g.WSURL != "/v1/ws" {
			t.Fatalf("grant %+v", g)
		}
		exp, err := time.Parse(time.RFC3339, g.ExpiresAt)
		if err != nil || !exp.After(time.Now()) {
			t.Fatalf("expires_at %q: %v", g.ExpiresAt, err)
		}
		if loc := r.Header.Get("Location"); loc != "/v1/sessions/"+g.SessionID {
			t.Fatalf("Location %q", loc)
		}
		// The session is live at once.
		var st sessionStatus
		a.get("/v1/sessions/"+g.SessionID, g.SessionToken).decode(t, http.StatusOK, &st)
		if st.State != "active" || st.UserID != u.ID {
			t.Fatalf("status %+v", st)
		}
	})

	t.Run("mpin verify errors", func(t *testing.T) {
		u := a.register(t)
		tok := a.login(t, u)
		a.post("/v1/auth/mpin/verify", tok.AccessToken, map[string]string{"mpin": wrongMPIN}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.post("/v1/auth/mpin/verify", tok.AccessToken, map[string]string{"mpin": "12"}).
			wantError(t, http.StatusBadRequest, "invalid_request", "mpin")
		a.post("/v1/auth/mpin/verify", tok.AccessToken, "").wantError(t, http.StatusBadRequest, "invalid_request", "")
		a.post("/v1/auth/mpin/verify", "", map[string]string{"mpin": u.MPIN}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.post("/v1/auth/mpin/verify", "not.a.jwt", map[string]string{"mpin": u.MPIN}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.send(req{Method: http.MethodPost, Path: "/v1/auth/mpin/verify", Body: map[string]string{"mpin": u.MPIN},
			Header: map[string]string{"Authorization": "Basic " + tok.AccessToken}}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "")
		// A session token where an access token is required.
		g := a.verify(t, tok.AccessToken, u.MPIN)
		a.post("/v1/auth/mpin/verify", g.SessionToken, map[string]string{"mpin": u.MPIN}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.post("/v1/auth/logout", g.SessionToken, nil).wantError(t, http.StatusUnauthorized, "unauthorized", "")
		// A refresh token is not an access token either, nor is the operator key.
		a.post("/v1/auth/mpin/verify", tok.RefreshToken, map[string]string{"mpin": u.MPIN}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "")
	})
}

// chunked hides a reader's length, so the request is sent chunked with no Content-Length.
type chunked struct{ r *strings.Reader }

func (c *chunked) Read(p []byte) (int, error) { return c.r.Read(p) }
