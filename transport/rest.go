package transport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/behaviorauth/engine/actors"
	"github.com/behaviorauth/engine/auth"
	"github.com/behaviorauth/engine/persistence"
)

// restRoute is one REST endpoint: the route table below is the single list that restRoutes registers and that
// the OpenAPI test (openapi_test.go) holds transport/openapi.yaml against.
type restRoute struct {
	Method  string
	Path    string
	Handler http.HandlerFunc
}

// Pattern is the route's net/http ServeMux pattern.
func (rt restRoute) Pattern() string { return rt.Method + " " + rt.Path }

// wsURL is the WebSocket endpoint announced to a new session (PROTOCOL.md).
const wsURL = "/v1/ws"

// endReasonClient is the reason stored when a client ends its session through the REST API.
const endReasonClient = "client"

// Defaults for zero configuration values.
const defaultRequestTimeout = 10 * time.Second

// restTable lists every REST route of the node (PROTOCOL.md "REST", plus the operator extension
// GET /v1/ops/sessions).
func (s *Server) restTable() []restRoute {
	return []restRoute{
		{"POST", "/v1/auth/register", s.register},
		{"POST", "/v1/auth/login", s.login},
		{"POST", "/v1/auth/refresh", s.refresh},
		{"POST", "/v1/auth/logout", s.logout},
		{"POST", "/v1/auth/mpin/verify", s.mpinVerify},
		{"GET", "/v1/sessions/{id}", s.sessionStatus},
		{"POST", "/v1/sessions/{id}/challenge", s.sessionChallenge},
		{"POST", "/v1/sessions/{id}/end", s.sessionEnd},
		{"POST", "/v1/feedback", s.feedback},
		{"GET", "/v1/users/{id}/profile", s.profile},
		{"GET", "/v1/stats", s.stats},
		{"GET", "/v1/ops/sessions", s.opsSessions},
		{"POST", "/v1/ops/drain", s.opsDrain},
	}
}

// restRoutes registers the REST API of PROTOCOL.md, each handler bounded by the request timeout.
func (s *Server) restRoutes() {
	for _, rt := range s.restTable() {
		s.mux.Handle(rt.Pattern(), s.bounded(rt.Handler))
	}
}

// bounded gives the request a deadline of HTTP.RequestTimeout: every call the handler makes (Postgres, actors)
// inherits it, and one that runs out answers 503 `unavailable`.
func (s *Server) bounded(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.requestTimeout())
		defer cancel()
		h(w, r.WithContext(ctx))
	})
}

func (s *Server) requestTimeout() time.Duration {
	switch {
	case s.opts.HTTP.RequestTimeout > 0:
		return s.opts.HTTP.RequestTimeout
	case s.opts.RequestTimeout > 0:
		return s.opts.RequestTimeout
	}
	return defaultRequestTimeout
}

func (s *Server) maxBody() int {
	switch {
	case s.opts.Limits.MaxBodyBytes > 0:
		return s.opts.Limits.MaxBodyBytes
	case s.opts.MaxBodyBytes > 0:
		return s.opts.MaxBodyBytes
	}
	return defaultMaxBodyBytes
}

func (s *Server) logger() *slog.Logger {
	if s.opts.Logger != nil {
		return s.opts.Logger
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (s *Server) client(r *http.Request) auth.Client {
	return auth.Client{Addr: clientAddr(r, s.opts.HTTP.TrustProxyHeaders)}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, s.logger(), err)
}

// POST /v1/auth/register
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var req registerRequest
	if err := readJSONBody(w, r, s.maxBody(), &req); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := s.opts.Auth.Register(r.Context(), auth.RegisterRequest{
		Phone: req.Phone, Password: req.Password, MPIN: req.MPIN, Name: req.Name,
	}, s.client(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, registerResponse{UserID: id})
}

// POST /v1/auth/login
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := readJSONBody(w, r, s.maxBody(), &req); err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.opts.Auth.Login(r.Context(), auth.LoginRequest{
		Phone: req.Phone, Password: req.Password, DeviceID: req.DeviceID,
	}, s.client(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tokensOf(t))
}

func tokensOf(t auth.Tokens) tokensResponse {
	return tokensResponse{UserID: t.UserID, AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, ExpiresIn: t.ExpiresIn}
}

// POST /v1/auth/refresh
func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	var req refreshRequest
	if err := readJSONBody(w, r, s.maxBody(), &req); err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.opts.Auth.Refresh(r.Context(), req.RefreshToken, s.client(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tokensOf(t))
}

// POST /v1/auth/logout: no body (one sent is ignored).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticate(r.Context(), r, credAccess)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.opts.Auth.Logout(r.Context(), *c.access, s.client(r)); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// POST /v1/auth/mpin/verify: the MPIN opens a behavioral session (accounts: row, token, audit), then its actor
// is activated. If the activation fails the answer is 503 and the client verifies again; the unused session row
// expires on its own.
func (s *Server) mpinVerify(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticate(r.Context(), r, credAccess)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req mpinRequest
	if err := readJSONBody(w, r, s.maxBody(), &req); err != nil {
		s.fail(w, r, err)
		return
	}
	g, err := s.opts.Auth.StartSession(r.Context(), *c.access, req.MPIN, s.client(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.opts.Engine.StartSession(r.Context(), g.SessionID, c.access.UserID, c.access.LoginID, g.ExpiresAt); err != nil {
		s.logger().WarnContext(r.Context(), "session opened but its actor did not start", "session_id", g.SessionID, "err", err)
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/sessions/"+g.SessionID)
	writeJSON(w, http.StatusCreated, sessionGrantResponse{
		SessionID: g.SessionID, SessionToken: g.SessionToken, ExpiresAt: g.ExpiresAt.UTC().Format(time.RFC3339), WSURL: wsURL,
	})
}

// GET /v1/sessions/{id}: the owner's access token, that session's token, or the operator key (an extension for
// the operator view).
func (s *Server) sessionStatus(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticate(r.Context(), r, credAccess|credSession|credOperator)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id, ok := pathUUID(r, "id")
	if !ok {
		s.fail(w, r, errNotFound("no such session"))
		return
	}
	st, err := s.sessionStatusFor(r.Context(), c, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, statusOf(st))
}

// POST /v1/sessions/{id}/challenge: the answer to a step-up. The session's state is read first so that an MPIN
// sent while no challenge is pending is refused (409) without spending one of the user's MPIN attempts. A wrong
// MPIN counts against the MPIN lockout (accounts) and against the session (Challenge(false); enough failures
// block it), and answers 401 `unauthorized` on field "mpin"; a locked MPIN answers 423 and counts as a failed
// step-up too.
func (s *Server) sessionChallenge(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticate(r.Context(), r, credSession)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id, ok := pathUUID(r, "id")
	if !ok || c.session.SessionID != id {
		s.fail(w, r, errForbidden("the session token is of another session"))
		return
	}
	var req mpinRequest
	if err := readJSONBody(w, r, s.maxBody(), &req); err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.opts.Engine.Status(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if st.GetState() != actors.StateChallenged {
		s.fail(w, r, stateConflict(st.GetState()))
		return
	}
	err = s.opts.Auth.CheckMPIN(r.Context(), c.session.UserID, req.MPIN, s.client(r))
	var locked *auth.LockedError
	switch {
	case err == nil:
		state, err := s.opts.Engine.Challenge(r.Context(), id, true)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, challengeResponse{State: state})
	case errors.Is(err, auth.ErrInvalidCredentials), errors.As(err, &locked):
		// A wrong answer, or none possible because the MPIN is locked (possibly by this very answer): either way
		// the step-up failed, and the session counts it.
		state, cerr := s.opts.Engine.Challenge(r.Context(), id, false)
		if cerr != nil {
			s.logger().WarnContext(r.Context(), "failed step-up not counted by the session", "session_id", id, "err", cerr)
		}
		if locked != nil {
			s.fail(w, r, err)
			return
		}
		msg := "wrong MPIN"
		switch {
		case cerr != nil:
		case state == actors.StateBlocked:
			msg = "wrong MPIN; the session is blocked"
		default:
			msg = "wrong MPIN; the session is still challenged"
		}
		we := errUnauthorized(msg)
		we.Field = "mpin"
		s.fail(w, r, we)
	default:
		s.fail(w, r, err)
	}
}

// stateConflict is the 409 of a step-up answer sent to a session that is not challenged.
func stateConflict(state string) *WireError {
	switch state {
	case actors.StateEnded:
		return errConflict("session has ended")
	case actors.StateBlocked:
		return errConflict("session is blocked")
	}
	return errConflict("no challenge pending")
}

// POST /v1/sessions/{id}/end: idempotent; every call answers the summary stored by the first.
func (s *Server) sessionEnd(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticate(r.Context(), r, credAccess|credSession)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id, ok := pathUUID(r, "id")
	if !ok {
		s.fail(w, r, errNotFound("no such session"))
		return
	}
	if c.session != nil {
		if c.session.SessionID != id {
			s.fail(w, r, errForbidden("the session token is of another session"))
			return
		}
	} else if _, err := s.sessionStatusFor(r.Context(), c, id); err != nil {
		s.fail(w, r, err)
		return
	}
	sum, err := s.opts.Engine.End(r.Context(), id, endReasonClient)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, summaryOf(sum))
}

// POST /v1/feedback: by the session's owner (access token) or the operator. The owner's feedback names the owner,
// so the store refuses a session of anyone else; that answers 403 whether or not the session exists (see
// sessionStatusFor). The operator gets 404 for an unknown session.
func (s *Server) feedback(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticate(r.Context(), r, credAccess|credOperator)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req feedbackRequest
	if err := readJSONBody(w, r, s.maxBody(), &req); err != nil {
		s.fail(w, r, err)
		return
	}
	fb, err := req.validate()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if c.operator {
		fb.ByOperator = true
	} else {
		fb.UserID = c.access.UserID
	}
	id, err := s.opts.Engine.SubmitFeedback(r.Context(), fb)
	if err != nil {
		if !c.operator && errors.Is(err, persistence.ErrNotFound) {
			err = errForbidden("not a session of this user")
		}
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, feedbackResponse{FeedbackID: id})
}

// validate checks a feedback body's fields and returns it as the store's type.
func (req feedbackRequest) validate() (persistence.Feedback, error) {
	if req.SessionID == "" {
		return persistence.Feedback{}, errInvalid("session_id", "session_id: required")
	}
	sid, ok := canonicalUUID(req.SessionID)
	if !ok {
		return persistence.Feedback{}, errInvalid("session_id", "session_id: must be a session id (UUID)")
	}
	if req.DecisionSeq != nil && *req.DecisionSeq < 1 {
		return persistence.Feedback{}, errInvalid("decision_seq", "decision_seq: must be 1 or more")
	}
	switch req.Label {
	case persistence.FeedbackGenuine, persistence.FeedbackFraud:
	case "":
		return persistence.Feedback{}, errInvalid("label", "label: required")
	default:
		return persistence.Feedback{}, errInvalid("label", "label: must be genuine or fraud")
	}
	return persistence.Feedback{SessionID: sid, DecisionSeq: req.DecisionSeq, Label: req.Label}, nil
}

// GET /v1/users/{id}/profile: the user's own access token or the operator key. Another user's profile is 403.
// An id the operator asks about that has no profile answers an empty one (version 0): the engine keeps no list
// of users apart from their profiles.
func (s *Server) profile(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticate(r.Context(), r, credAccess|credOperator)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id, ok := pathUUID(r, "id")
	if !c.operator && (!ok || c.access.UserID != id) {
		s.fail(w, r, errForbidden("not this user's profile"))
		return
	}
	if !ok {
		s.fail(w, r, errNotFound("no such user"))
		return
	}
	p, err := s.opts.Engine.Profile(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, profileOf(p))
}

// GET /v1/ops/sessions: the live sessions of every member, newest first, each with the node it runs on (the
// operator view); members that did not answer in time are listed in `unreachable`.
func (s *Server) opsSessions(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authenticate(r.Context(), r, credOperator); err != nil {
		s.fail(w, r, err)
		return
	}
	sessions, unreachable := s.opts.Engine.ClusterSessions(r.Context())
	if sessions == nil {
		sessions = []actors.LiveSession{}
	}
	if unreachable == nil {
		unreachable = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": sessions, "unreachable": unreachable})
}

// POST /v1/ops/drain: the node drains and stops, as on SIGTERM (readiness 503, WebSockets closed with 1012,
// the member leaves the cluster). 202: the drain has begun; the answer goes out before the listener closes.
func (s *Server) opsDrain(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authenticate(r.Context(), r, credOperator); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.opts.Stop == nil {
		s.fail(w, r, errUnavailable("this node cannot be drained remotely"))
		return
	}
	s.opts.Stop()
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "draining"})
}
