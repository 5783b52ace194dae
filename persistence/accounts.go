package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgUniqueViolation is PostgreSQL's SQLSTATE for a unique-constraint violation.
const pgUniqueViolation = "23505"

// Accounts stores users, logins, refresh tokens, lockouts, rate-limit windows, authentication sessions and the
// audit trail (migration 001). It holds no state of its own: every rule built on it holds across nodes. Times are
// passed in by the caller (its clock) rather than taken from the database's now(), so that a test clock governs
// every expiry.
type Accounts struct {
	pool *pgxpool.Pool
}

// NewAccounts returns the accounts store on pool.
func NewAccounts(pool *pgxpool.Pool) *Accounts {
	return &Accounts{pool: pool}
}

// User is a row of users. The hashes are PHC-encoded argon2id strings.
type User struct {
	ID           string
	Phone        string
	Name         string
	PasswordHash string
	MPINHash     string
	CreatedAt    time.Time
}

// CreateUser inserts u. A phone already registered gives ErrConflict (from the unique index, so two nodes
// registering the same phone at once cannot both succeed).
func (a *Accounts) CreateUser(ctx context.Context, u User) error {
	_, err := a.pool.Exec(ctx,
		`insert into users (id, phone, name, password_hash, mpin_hash, created_at) values ($1, $2, $3, $4, $5, $6)`,
		u.ID, u.Phone, u.Name, u.PasswordHash, u.MPINHash, u.CreatedAt)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == pgUniqueViolation {
			return fmt.Errorf("persistence: create user: phone taken: %w", ErrConflict)
		}
		return fmt.Errorf("persistence: create user: %w", err)
	}
	return nil
}

// UserByPhone returns the user registered with phone (E.164), or ErrNotFound.
func (a *Accounts) UserByPhone(ctx context.Context, phone string) (User, error) {
	return a.user(ctx, `phone = $1`, phone)
}

// UserByID returns the user with id, or ErrNotFound (a malformed id also gives ErrNotFound).
func (a *Accounts) UserByID(ctx context.Context, id string) (User, error) {
	if uuid.Validate(id) != nil {
		return User{}, fmt.Errorf("persistence: user %q: %w", id, ErrNotFound)
	}
	return a.user(ctx, `id = $1`, id)
}

func (a *Accounts) user(ctx context.Context, where string, arg string) (User, error) {
	var u User
	err := a.pool.QueryRow(ctx,
		`select id::text, phone, name, password_hash, mpin_hash, created_at from users where `+where, arg).
		Scan(&u.ID, &u.Phone, &u.Name, &u.PasswordHash, &u.MPINHash, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("persistence: user: %w", ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("persistence: user: %w", err)
	}
	return u, nil
}

// SetPasswordHash replaces a user's password hash (a rehash with new parameters). ErrNotFound if no such user.
func (a *Accounts) SetPasswordHash(ctx context.Context, userID, hash string) error {
	return a.setHash(ctx, `password_hash`, userID, hash)
}

// SetMPINHash replaces a user's MPIN hash. ErrNotFound if no such user.
func (a *Accounts) SetMPINHash(ctx context.Context, userID, hash string) error {
	return a.setHash(ctx, `mpin_hash`, userID, hash)
}

func (a *Accounts) setHash(ctx context.Context, column, userID, hash string) error {
	if uuid.Validate(userID) != nil {
		return fmt.Errorf("persistence: set %s: %w", column, ErrNotFound)
	}
	tag, err := a.pool.Exec(ctx, `update users set `+column+` = $2 where id = $1`, userID, hash)
	if err != nil {
		return fmt.Errorf("persistence: set %s: %w", column, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("persistence: set %s: %w", column, ErrNotFound)
	}
	return nil
}

// NewLogin is a login (token family) with its first refresh token.
type NewLogin struct {
	ID         string
	UserID     string
	DeviceID   string
	ClientAddr string
	CreatedAt  time.Time
	// RefreshDigest is the SHA-256 of the first refresh token; RefreshExpires its end.
	RefreshDigest  []byte
	RefreshExpires time.Time
}

// CreateLogin inserts a login and its first refresh token, atomically (one statement).
func (a *Accounts) CreateLogin(ctx context.Context, l NewLogin) error {
	_, err := a.pool.Exec(ctx,
		`with l as (
		    insert into logins (id, user_id, device_id, client_addr, created_at) values ($1, $2, $3, $4, $5)
		    returning id)
		 insert into refresh_tokens (digest, login_id, issued_at, expires_at) select $6, l.id, $5, $7 from l`,
		l.ID, l.UserID, l.DeviceID, l.ClientAddr, l.CreatedAt, l.RefreshDigest, l.RefreshExpires)
	if err != nil {
		return fmt.Errorf("persistence: create login: %w", err)
	}
	return nil
}

// LoginState is what token verification needs to know about a login.
type LoginState struct {
	UserID string
	// Revoked is true once the login was revoked (logout, block, refresh-token reuse).
	Revoked bool
}

// Login returns the state of login id, or ErrNotFound (a malformed id also gives ErrNotFound).
func (a *Accounts) Login(ctx context.Context, id string) (LoginState, error) {
	if uuid.Validate(id) != nil {
		return LoginState{}, fmt.Errorf("persistence: login %q: %w", id, ErrNotFound)
	}
	var st LoginState
	err := a.pool.QueryRow(ctx, `select user_id::text, revoked_at is not null from logins where id = $1`, id).
		Scan(&st.UserID, &st.Revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return LoginState{}, fmt.Errorf("persistence: login: %w", ErrNotFound)
	}
	if err != nil {
		return LoginState{}, fmt.Errorf("persistence: login: %w", err)
	}
	return st, nil
}

// SessionState is what session-token verification needs to know about a session and its login.
type SessionState struct {
	UserID  string
	LoginID string
	// LoginRevoked is true once the session's login was revoked.
	LoginRevoked bool
	// Ended is true once the session ended (its token still names it: ending is idempotent).
	Ended bool
}

// Session returns the state of session id and its login, or ErrNotFound.
func (a *Accounts) Session(ctx context.Context, id string) (SessionState, error) {
	if uuid.Validate(id) != nil {
		return SessionState{}, fmt.Errorf("persistence: session %q: %w", id, ErrNotFound)
	}
	var st SessionState
	err := a.pool.QueryRow(ctx,
		`select s.user_id::text, s.login_id::text, l.revoked_at is not null, s.ended_at is not null
		   from sessions s join logins l on l.id = s.login_id
		  where s.id = $1`, id).
		Scan(&st.UserID, &st.LoginID, &st.LoginRevoked, &st.Ended)
	if errors.Is(err, pgx.ErrNoRows) {
		return SessionState{}, fmt.Errorf("persistence: session: %w", ErrNotFound)
	}
	if err != nil {
		return SessionState{}, fmt.Errorf("persistence: session: %w", err)
	}
	return st, nil
}

// RevokeLogin marks login id revoked at `at` with reason. Revoking a revoked login changes nothing and is not an
// error (the first reason stays); revoked reports whether this call did it. ErrNotFound if there is no such login.
func (a *Accounts) RevokeLogin(ctx context.Context, id, reason string, at time.Time) (revoked bool, err error) {
	if uuid.Validate(id) != nil {
		return false, fmt.Errorf("persistence: revoke login %q: %w", id, ErrNotFound)
	}
	var did bool
	err = a.pool.QueryRow(ctx,
		`with l as (select id, revoked_at from logins where id = $1),
		      u as (update logins set revoked_at = $3, revoked_reason = $2
		             where id = $1 and revoked_at is null returning id)
		 select exists (select 1 from u) from l`, id, reason, at).Scan(&did)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("persistence: revoke login: %w", ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("persistence: revoke login: %w", err)
	}
	return did, nil
}

// RefreshOwner returns the user id and login id of the refresh token with digest, used or not, or ErrNotFound.
func (a *Accounts) RefreshOwner(ctx context.Context, digest []byte) (userID, loginID string, err error) {
	err = a.pool.QueryRow(ctx,
		`select l.user_id::text, l.id::text from refresh_tokens t join logins l on l.id = t.login_id where t.digest = $1`,
		digest).Scan(&userID, &loginID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", fmt.Errorf("persistence: refresh token: %w", ErrNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("persistence: refresh token: %w", err)
	}
	return userID, loginID, nil
}

// RotationOutcome says what a refresh-token rotation did.
type RotationOutcome int

const (
	// Rotated: the token was live and unused; it is now used and the new token replaces it.
	Rotated RotationOutcome = iota + 1
	// Reused: the token had been used already. Its login is now revoked (reason "refresh_reuse"); nothing issued.
	Reused
	// Expired: the token is past its expiry; nothing changed.
	Expired
	// Revoked: the token's login was revoked already; nothing changed.
	Revoked
)

// String names the outcome for logs.
func (o RotationOutcome) String() string {
	switch o {
	case Rotated:
		return "rotated"
	case Reused:
		return "reused"
	case Expired:
		return "expired"
	case Revoked:
		return "revoked"
	}
	return fmt.Sprintf("RotationOutcome(%d)", int(o))
}

// Rotation is the result of RotateRefresh.
type Rotation struct {
	Outcome RotationOutcome
	UserID  string
	LoginID string
}

// RotateRefresh spends the refresh token with digest at time now and, if it was live, stores its successor
// (newDigest, expiring at newExpires) in the same login, all in one transaction that holds the old token's row
// lock: of two concurrent rotations of one token exactly one rotates and the other sees reuse. A token that was
// already used revokes its login (the whole family). Unknown digest: ErrNotFound.
func (a *Accounts) RotateRefresh(ctx context.Context, digest, newDigest []byte, now, newExpires time.Time) (Rotation, error) {
	var r Rotation
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		var (
			expires time.Time
			used    bool
			revoked bool
		)
		err := tx.QueryRow(ctx,
			`select t.login_id::text, l.user_id::text, t.expires_at, t.used_at is not null, l.revoked_at is not null
			   from refresh_tokens t join logins l on l.id = t.login_id
			  where t.digest = $1
			    for update of t`, digest).Scan(&r.LoginID, &r.UserID, &expires, &used, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		switch {
		case used:
			r.Outcome = Reused
			_, err = tx.Exec(ctx,
				`update logins set revoked_at = $2, revoked_reason = 'refresh_reuse' where id = $1 and revoked_at is null`,
				r.LoginID, now)
			return err
		case revoked:
			r.Outcome = Revoked
			return nil
		case !now.Before(expires):
			r.Outcome = Expired
			return nil
		}
		r.Outcome = Rotated
		if _, err := tx.Exec(ctx, `update refresh_tokens set used_at = $2 where digest = $1`, digest, now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx,
			`insert into refresh_tokens (digest, login_id, issued_at, expires_at) values ($1, $2, $3, $4)`,
			newDigest, r.LoginID, now, newExpires)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return Rotation{}, fmt.Errorf("persistence: rotate refresh token: %w", ErrNotFound)
	}
	if err != nil {
		return Rotation{}, fmt.Errorf("persistence: rotate refresh token: %w", err)
	}
	return r, nil
}

// AuthSession is a new row of sessions.
type AuthSession struct {
	ID        string
	UserID    string
	LoginID   string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateSession inserts s if its login is live and belongs to s.UserID; otherwise (revoked, unknown, or another
// user's) nothing is written and the error is ErrNotFound.
func (a *Accounts) CreateSession(ctx context.Context, s AuthSession) error {
	if uuid.Validate(s.LoginID) != nil || uuid.Validate(s.UserID) != nil {
		return fmt.Errorf("persistence: create session: %w", ErrNotFound)
	}
	tag, err := a.pool.Exec(ctx,
		`insert into sessions (id, user_id, login_id, created_at, expires_at)
		 select $1, $2, l.id, $4, $5 from logins l
		  where l.id = $3 and l.user_id = $2 and l.revoked_at is null`,
		s.ID, s.UserID, s.LoginID, s.CreatedAt, s.ExpiresAt)
	if err != nil {
		return fmt.Errorf("persistence: create session: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("persistence: create session: no live login: %w", ErrNotFound)
	}
	return nil
}

// Reservation is the answer of ReserveAttempt.
type Reservation struct {
	// Granted is true when the attempt was reserved: the caller checks the secret, then settles or releases.
	Granted bool
	// LockedUntil is the end of the current lock, zero when not locked.
	LockedUntil time.Time
	// InFlight counts the attempts in flight when the attempt was refused without a lock (failures plus
	// attempts in flight reached the maximum).
	InFlight int
}

// liveInFlight is the SQL for the attempts in flight of a lockouts row at time $3: the count lapses as a whole
// once the newest reservation is older than its ttl (its node died before settling).
const liveInFlight = `(case when lockouts.inflight_until > $3 then lockouts.inflight else 0 end)`

// ReserveAttempt reserves one credential check of purpose ("login", "mpin") for userID at time now, unless the
// user is locked or failures plus attempts in flight already reach max. One statement: the upsert takes the
// lockouts row's lock and its condition is evaluated on the row's latest version, so the count is exact however
// many reservations arrive at once on however many nodes. A reservation never settled lapses at now+ttl.
func (a *Accounts) ReserveAttempt(ctx context.Context, userID, purpose string, max int, now time.Time, ttl time.Duration) (Reservation, error) {
	var n int
	err := a.pool.QueryRow(ctx,
		`insert into lockouts (user_id, purpose, inflight, inflight_until) values ($1, $2, 1, $4)
		 on conflict (user_id, purpose) do update
		    set inflight = `+liveInFlight+` + 1, inflight_until = $4
		  where (lockouts.locked_until is null or lockouts.locked_until <= $3)
		    and lockouts.failures + `+liveInFlight+` < $5
		 returning inflight`, userID, purpose, now, now.Add(ttl), max).Scan(&n)
	if err == nil {
		return Reservation{Granted: true}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Reservation{}, fmt.Errorf("persistence: reserve %s attempt: %w", purpose, err)
	}
	// Refused: say why. A read after the fact is good enough for the answer's retry time.
	l, err := a.LockoutState(ctx, userID, purpose, now)
	if err != nil {
		return Reservation{}, fmt.Errorf("persistence: reserve %s attempt: %w", purpose, err)
	}
	res := Reservation{InFlight: l.InFlight}
	if l.LockedUntil.After(now) {
		res.LockedUntil = l.LockedUntil
	}
	return res, nil
}

// SettleAttempt ends a reserved attempt at time now. On success the failure count goes back to zero. On failure
// it grows by one, and when it reaches max the user is locked until lockUntil and the count starts again from
// zero (the lock itself now refuses attempts). lockedUntil is non-zero when this failure set the lock.
func (a *Accounts) SettleAttempt(ctx context.Context, userID, purpose string, success bool, max int, now, lockUntil time.Time) (lockedUntil time.Time, err error) {
	var locked bool
	if success {
		err = a.pool.QueryRow(ctx,
			`update lockouts set inflight = greatest(`+liveInFlight+` - 1, 0), failures = 0
			  where user_id = $1 and purpose = $2 returning false`, userID, purpose, now).Scan(&locked)
	} else {
		err = a.pool.QueryRow(ctx,
			`update lockouts set
			        inflight     = greatest(`+liveInFlight+` - 1, 0),
			        failures     = case when failures + 1 >= $4 then 0 else failures + 1 end,
			        locked_until = case when failures + 1 >= $4 then $5 else locked_until end
			  where user_id = $1 and purpose = $2
			 returning failures = 0`, userID, purpose, now, max, lockUntil).Scan(&locked)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("persistence: settle %s attempt: %w", purpose, ErrNotFound)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("persistence: settle %s attempt: %w", purpose, err)
	}
	if locked {
		return lockUntil, nil
	}
	return time.Time{}, nil
}

// ReleaseAttempt ends a reserved attempt at time now without counting it: the check did not happen.
func (a *Accounts) ReleaseAttempt(ctx context.Context, userID, purpose string, now time.Time) error {
	_, err := a.pool.Exec(ctx,
		`update lockouts set inflight = greatest(`+liveInFlight+` - 1, 0) where user_id = $1 and purpose = $2`,
		userID, purpose, now)
	if err != nil {
		return fmt.Errorf("persistence: release %s attempt: %w", purpose, err)
	}
	return nil
}

// Lockout is the lockout state of one user and purpose.
type Lockout struct {
	Failures    int
	LockedUntil time.Time // zero when never locked
	InFlight    int       // reserved attempts neither settled nor lapsed at the time asked
}

// LockoutState returns the lockout state of userID for purpose at time now (zero state if none was recorded).
func (a *Accounts) LockoutState(ctx context.Context, userID, purpose string, now time.Time) (Lockout, error) {
	var (
		l      Lockout
		locked *time.Time
	)
	err := a.pool.QueryRow(ctx,
		`select failures, locked_until, `+liveInFlight+` from lockouts where user_id = $1 and purpose = $2`,
		userID, purpose, now).Scan(&l.Failures, &locked, &l.InFlight)
	if errors.Is(err, pgx.ErrNoRows) {
		return Lockout{}, nil
	}
	if err != nil {
		return Lockout{}, fmt.Errorf("persistence: lockout state: %w", err)
	}
	if locked != nil {
		l.LockedUntil = *locked
	}
	return l, nil
}

// RateHit is the count of one rate-limit key after a hit.
type RateHit struct {
	Key string
	// Current counts the hits of the window that starts at the windowStart given, this one included.
	Current int
	// Previous counts the hits of the window before it.
	Previous int
}

// HitRate counts one hit on each key in the window starting at windowStart and returns, per key in the order
// given, the counts of that window and of the one starting at prevStart. One statement for all keys; the keys are
// taken in sorted order so that concurrent hits on the same keys cannot deadlock.
func (a *Accounts) HitRate(ctx context.Context, keys []string, windowStart, prevStart time.Time) ([]RateHit, error) {
	sorted := append([]string(nil), keys...)
	sort.Strings(sorted)
	sorted = slices.Compact(sorted) // one row may be updated once per statement
	rows, err := a.pool.Query(ctx,
		`with hit as (
		    insert into rate_windows (key, window_start, hits)
		    select k, $2, 1 from unnest($1::text[]) with ordinality as u(k, n) order by n
		    on conflict (key, window_start) do update set hits = rate_windows.hits + 1
		    returning key, hits)
		 select h.key, h.hits, coalesce(p.hits, 0)
		   from hit h left join rate_windows p on p.key = h.key and p.window_start = $3`,
		sorted, windowStart, prevStart)
	if err != nil {
		return nil, fmt.Errorf("persistence: rate hit: %w", err)
	}
	byKey := make(map[string]RateHit, len(keys))
	for rows.Next() {
		var h RateHit
		if err := rows.Scan(&h.Key, &h.Current, &h.Previous); err != nil {
			rows.Close()
			return nil, fmt.Errorf("persistence: rate hit: %w", err)
		}
		byKey[h.Key] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("persistence: rate hit: %w", err)
	}
	out := make([]RateHit, len(keys))
	for i, k := range keys {
		h, ok := byKey[k]
		if !ok {
			return nil, fmt.Errorf("persistence: rate hit: key %q not counted", k)
		}
		out[i] = h
	}
	return out, nil
}

// DeleteRateWindows removes the windows that started before `before` and returns how many went.
func (a *Accounts) DeleteRateWindows(ctx context.Context, before time.Time) (int64, error) {
	tag, err := a.pool.Exec(ctx, `delete from rate_windows where window_start < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("persistence: delete rate windows: %w", err)
	}
	return tag.RowsAffected(), nil
}

// AuthEvent is a row of the audit trail. Detail is any JSON-encodable map; it must never hold a secret.
type AuthEvent struct {
	At         time.Time
	UserID     string // empty when no user is known (a login to an unknown phone)
	Kind       string
	Outcome    string
	ClientAddr string
	Detail     map[string]any
}

// InsertAuthEvents appends events to the audit trail in one statement.
func (a *Accounts) InsertAuthEvents(ctx context.Context, events ...AuthEvent) error {
	if len(events) == 0 {
		return nil
	}
	var (
		at      = make([]time.Time, len(events))
		users   = make([]string, len(events))
		kinds   = make([]string, len(events))
		outs    = make([]string, len(events))
		addrs   = make([]string, len(events))
		details = make([]string, len(events))
	)
	for i, e := range events {
		if e.UserID != "" && uuid.Validate(e.UserID) != nil {
			return fmt.Errorf("persistence: auth event: user id %q is not a uuid", e.UserID)
		}
		details[i] = "{}"
		if len(e.Detail) > 0 {
			b, err := json.Marshal(e.Detail)
			if err != nil {
				return fmt.Errorf("persistence: auth event detail: %w", err)
			}
			details[i] = string(b)
		}
		at[i], users[i], kinds[i], outs[i], addrs[i] = e.At, e.UserID, e.Kind, e.Outcome, e.ClientAddr
	}
	_, err := a.pool.Exec(ctx,
		`insert into auth_events (at, user_id, kind, outcome, client_addr, detail)
		 select t, nullif(u, '')::uuid, k, o, c, d::jsonb
		   from unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) as e(t, u, k, o, c, d)`,
		at, users, kinds, outs, addrs, details)
	if err != nil {
		return fmt.Errorf("persistence: insert auth events: %w", err)
	}
	return nil
}

// AuthEvents returns the audit trail of userID (every user when empty), oldest first, at most limit rows.
func (a *Accounts) AuthEvents(ctx context.Context, userID string, limit int) ([]AuthEvent, error) {
	if userID != "" && uuid.Validate(userID) != nil {
		return nil, fmt.Errorf("persistence: auth events: %w", ErrNotFound)
	}
	rows, err := a.pool.Query(ctx,
		`select at, coalesce(user_id::text, ''), kind, outcome, client_addr, detail
		   from auth_events where $1 = '' or user_id = nullif($1, '')::uuid
		  order by id limit $2`, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("persistence: auth events: %w", err)
	}
	defer rows.Close()
	var out []AuthEvent
	for rows.Next() {
		var (
			e      AuthEvent
			detail []byte
		)
		if err := rows.Scan(&e.At, &e.UserID, &e.Kind, &e.Outcome, &e.ClientAddr, &detail); err != nil {
			return nil, fmt.Errorf("persistence: auth events: %w", err)
		}
		if err := json.Unmarshal(detail, &e.Detail); err != nil {
			return nil, fmt.Errorf("persistence: auth events: detail: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("persistence: auth events: %w", err)
	}
	return out, nil
}
