package transport

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/behaviorauth/engine/actors"
	"github.com/behaviorauth/engine/actors/enginepb"
	"github.com/behaviorauth/engine/auth"
)

// credential kinds a route accepts (a bit set).
type credKind uint8

const (
	credAccess   credKind = 1 << iota // Bearer access token of a login
	credSession                       // Bearer session token of a behavioral session
	credOperator                      // Bearer operator key (configuration)
)

// caller is who a request authenticated as: exactly one of the three is set.
type caller struct {
	operator bool
	access   *auth.AccessClaims
	session  *auth.SessionClaims
}

// maxBearerLen bounds the credential of an Authorization header; tokens the node issues are far shorter.
const maxBearerLen = 4096

// bearerToken returns the credential of `Authorization: Bearer <credential>`. The scheme is case-insensitive
// (RFC 7235); the credential is one token68 word.
func bearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", errUnauthorized("missing Authorization: Bearer credential")
	}
	scheme, cred, ok := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" || strings.ContainsAny(cred, " \t") ||
		len(cred) > maxBearerLen {
		return "", errUnauthorized("malformed Authorization header: want Bearer <credential>")
	}
	return cred, nil
}

// authenticate checks the bearer credential of r against the kinds the route accepts. A credential of a kind the
// route does not accept (a session token where an access token is required, anything but the operator key on an
// operator route) is 401, as is a missing, malformed, expired or revoked one.
func (s *Server) authenticate(ctx context.Context, r *http.Request, kinds credKind) (caller, error) {
	tok, err := bearerToken(r)
	if err != nil {
		return caller{}, err
	}
	if kinds&credOperator != 0 && s.opts.Auth.IsOperator(tok) {
		return caller{operator: true}, nil
	}
	var accessErr error
	if kinds&credAccess != 0 {
		c, err := s.opts.Auth.VerifyAccess(ctx, tok)
		if err == nil {
			return caller{access: &c}, nil
		}
		// Only "not an access token at all" lets a session token be tried; an expired or revoked access token
		// (or a database failure) is the answer.
		if kinds&credSession == 0 || !isPlainUnauthorized(err) {
			return caller{}, err
		}
		accessErr = err
	}
	if kinds&credSession != 0 {
		c, err := s.opts.Auth.VerifySession(ctx, tok)
		if err == nil {
			return caller{session: &c}, nil
		}
		if accessErr != nil && isPlainUnauthorized(err) {
			return caller{}, accessErr
		}
		return caller{}, err
	}
	if kinds == credOperator {
		return caller{}, errUnauthorized("operator key required")
	}
	return caller{}, errUnauthorized("missing or invalid token")
}

func isPlainUnauthorized(err error) bool {
	return errors.Is(err, auth.ErrUnauthorized) && !errors.Is(err, auth.ErrTokenExpired) && !errors.Is(err, auth.ErrTokenRevoked)
}

// pathUUID returns the path value name as a canonical (lower-case, hyphenated) UUID. Only the 36-character form
// is accepted: every id the node issues has it.
func pathUUID(r *http.Request, name string) (string, bool) {
	return canonicalUUID(r.PathValue(name))
}

func canonicalUUID(v string) (string, bool) {
	if len(v) != 36 {
		return "", false
	}
	u, err := uuid.Parse(v)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// sessionStatusFor authorizes c on session id and returns its status.
//
// Existence is not leaked: a session token of another session, and an access token whose user does not own the
// session, get 403 whether or not the session exists (a user cannot tell someone else's session from no session).
// 404 is only for the operator, who may know every session. A session token always names an existing session
// (VerifySession checked its row), so its holder never sees 404 either.
func (s *Server) sessionStatusFor(ctx context.Context, c caller, id string) (*enginepb.Status, error) {
	switch {
	case c.session != nil:
		if c.session.SessionID != id {
			return nil, errForbidden("the session token is of another session")
		}
		return s.opts.Engine.Status(ctx, id)
	case c.access != nil:
		st, err := s.opts.Engine.Status(ctx, id)
		if errors.Is(err, actors.ErrSessionNotFound) || (err == nil && st.GetUserId() != c.access.UserID) {
			return nil, errForbidden("not a session of this user")
		}
		return st, err
	case c.operator:
		return s.opts.Engine.Status(ctx, id)
	}
	return nil, errUnauthorized("missing or invalid token")
}
