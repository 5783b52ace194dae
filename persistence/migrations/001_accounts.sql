-- Accounts: users and their credentials, logins (token families), refresh tokens, throttling counters and the
-- audit trail of every authentication event. Secrets are stored only as argon2id hashes (passwords, MPINs) or
-- SHA-256 digests (refresh tokens).

create table users (
    id                 uuid primary key,
    phone              text not null unique,
    name               text not null default '',
    password_hash      text not null,
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

create table refresh_tokens (
    digest       bytea primary key,
    login_id     uuid not null references logins(id) on delete cascade,
    issued_at    timestamptz not null default now(),
    expires_at   timestamptz not null,
    used_at      timestamptz
);
create index refresh_tokens_login on refresh_tokens(login_id);

-- Lockout state per user and purpose ('login', 'mpin'): consecutive failures and the lock's end. Kept in
-- Postgres so that it holds across every node of the cluster.
create table lockouts (
    user_id       uuid not null references users(id) on delete cascade,
    purpose       text not null,
    failures      int not null default 0,
    locked_until  timestamptz,
    primary key (user_id, purpose)
);

-- Fixed-window rate-limit counters, keyed by what is limited ('addr:203.0.113.9', 'acct:+919876543210', ...).
create table rate_windows (
    key           text not null,
    window_start  timestamptz not null,
    hits          int not null,
    primary key (key, window_start)
);

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
