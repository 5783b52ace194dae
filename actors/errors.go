// Package actors is the engine: the session and profile cluster kinds, the local pool of FAISS index actors, the
// write-behind to Postgres, and the Engine facade through which the transport sends one message per request.
package actors

import "errors"

// Sentinel errors of the engine; the transport maps them to wire codes in one place.
var (
	// ErrSessionNotFound: no session has that id.
	ErrSessionNotFound = errors.New("actors: session not found")
	// ErrSessionEnded: the session has ended and takes no more events.
	ErrSessionEnded = errors.New("actors: session ended")
	// ErrSessionBlocked: the session was blocked.
	ErrSessionBlocked = errors.New("actors: session blocked")
	// ErrNotChallenged: a step-up answer came while no challenge was pending.
	ErrNotChallenged = errors.New("actors: no challenge pending")
	// ErrUnavailable: the actor or a dependency did not answer in time.
	ErrUnavailable = errors.New("actors: unavailable")
	// ErrInvalid: the message was refused as malformed.
	ErrInvalid = errors.New("actors: invalid request")
)

// Error codes carried in replies between members (protobuf has no Go errors); codeErr and errCode translate.
const (
	codeNotFound      = "not_found"
	codeEnded         = "ended"
	codeBlocked       = "blocked"
	codeNotChallenged = "not_challenged"
	codeUnavailable   = "unavailable"
	codeInvalid       = "invalid"
)

func codeErr(code string) error {
	switch code {
	case "":
		return nil
	case codeNotFound:
		return ErrSessionNotFound
	case codeEnded:
		return ErrSessionEnded
	case codeBlocked:
		return ErrSessionBlocked
	case codeNotChallenged:
		return ErrNotChallenged
	case codeInvalid:
		return ErrInvalid
	default:
		return ErrUnavailable
	}
}
