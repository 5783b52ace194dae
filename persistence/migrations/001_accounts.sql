-- Accounts: users and their credentials, logins (token families), refresh tokens, lockouts, rate-limit windows
-- and the audit trail of every authentication event. Secrets are stored only as argon2id hashes (passwords, MPINs)
-- or SHA-256 digests (refresh tokens). Every counter lives here, not in a node's memory, so that the rules hold
-- across the whole cluster.

create table users (
    id                 uuid primary key,
    phone              text not null unique,      -- E.164
    name               text not null default '',
    password_hash      text not null,             -- PHC string: $argon2id$v=19$m=..,t=..,p=..$salt$hash
    mpin_hash          text not null,
    created_at         timestamptz not null default now()
);

-- One row per login: every access and refresh token issued from it carries its id, so revoking the family
-- (logout, block, refresh-token reuse) stops all of them at once.
create table logins (
    id             uuid primary key,
    user_id        uuid not null references users(id) on delete cascade,
    device_id      text not null default '',
    client_addr    text not null default '',
    created_at     timestamptz not null default now(),
    revoked_at     timestamptz,
    revoked_reason text
);
create index logins_user on logins(user_id);

-- Refresh tokens are kept after use (used_at set) so that a second use is recognised as reuse and revokes the
-- login.
create table refresh_tokens (
    digest       bytea primary key,               -- SHA-256 of the token
    login_id     uuid not null references logins(id) on delete cascade,
    issued_at    timestamptz not null default now(),
    expires_at   timestamptz not null,
    used_at      timestamptz
);
create index refresh_tokens_login on refresh_tokens(login_id);

-- Lockout state per user and purpose ('login', 'mpin'): consecutive failures, the lock's end, and the credential
-- checks in flight. An attempt is reserved (inflight + 1, under this row's lock) before its hash is checked and
-- settled after, so that failures + inflight never exceeds the maximum however many requests arrive at once on
-- however many nodes. inflight lapses as a whole at inflight_until (the newest reservation's deadline), so the
-- reservations of a node that died mid-check do not hold the count forever.
create table lockouts (
    user_id         uuid not null references users(id) on delete cascade,
    purpose         text not null,
    failures        int not null default 0,
    locked_until    timestamptz,
    inflight        int not null default 0,
    inflight_until  timestamptz,
    primary key (user_id, purpose)
);

-- Rate-limit counters per fixed window, keyed by what is limited ('login|addr|203.0.113.9',
-- 'login|acct|+919876543210', ...). The limiter weighs the previous window in (sliding-window estimate).
create table rate_windows (
    key           text not null,
    window_start  timestamptz not null,
    hits          int not null,
    primary key (key, window_start)
);
create index rate_windows_start on rate_windows(window_start);

-- The audit trail. detail never holds a secret (no password, MPIN or token).
create table auth_events (
    id           bigserial primary key,
    at           timestamptz not null default now(),
    user_id      uuid,
    kind         text not null,
    outcome      text not null,
    client_addr  text not null default '',
    detail       jsonb not null default '{}'
);
create index auth_events_user_at on auth_events(user_id, at);
create index auth_events_kind_at on auth_events(kind, at);

-- A behavioral session starts on a successful MPIN verify; its token carries the login's id, so revoking the
-- login ends the session's access too. The engine's tables (002) hang off this one.
create table sessions (
    id          uuid primary key,
    user_id     uuid not null references users(id) on delete cascade,
    login_id    uuid not null references logins(id) on delete cascade,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null,
    ended_at    timestamptz,
    end_reason  text,
    summary     jsonb
);
create index sessions_user on sessions(user_id);
