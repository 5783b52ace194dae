-- Engine state: decisions, session snapshots, per-user profiles and templates, feedback and the vectors that
-- feedback needs. Raw key codes and raw event streams are never stored here: only derived feature vectors (float32
-- little-endian bytea, 4 bytes per dimension), decisions and counts. Every table is written in batches behind the
-- hot path, keyed by natural ids so that a retried write lands once.

-- One row per decision sent to the client, in the order sent. seq counts decisions within the session from 1;
-- event_seq is the client's `events` message seq that completed the sample.
create table decisions (
    session_id   uuid not null references sessions(id) on delete cascade,
    seq          bigint not null check (seq >= 1),
    event_seq    bigint not null check (event_seq >= 0),
    at           timestamptz not null,
    action       text not null check (action in ('allow', 'challenge', 'block')),
    risk         real not null check (risk >= 0 and risk <= 1),
    mode         text not null,
    field        text not null default '',
    modality     text not null,
    status       text not null,
    sample_risk  real check (sample_risk >= 0 and sample_risk <= 1),
    reasons      text[] not null default '{}',
    latency_us   int not null default 0,
    primary key (session_id, seq)
);

-- The last snapshot of a session actor, so that a reconnect on another node finds the same window and risk.
-- version grows with every snapshot of the session; a write with a version not newer than the stored one is
-- refused, so a stale writer (an old activation on another node) never overwrites a newer snapshot.
create table session_snapshots (
    session_id  uuid primary key references sessions(id) on delete cascade,
    version     bigint not null check (version >= 1),
    last_seq    bigint not null default 0,
    state       text not null,
    risk        real not null check (risk >= 0 and risk <= 1),
    events      bigint not null default 0,
    samples     bigint not null default 0,
    decisions   bigint not null default 0,
    snapshot    bytea not null,
    updated_at  timestamptz not null default now()
);

-- The feature vector of each scored sample, by decision, so that `fraud` feedback can add a session's vectors (or
-- one decision's) to the global fraud index after the fact.
create table session_vectors (
    session_id  uuid not null references sessions(id) on delete cascade,
    seq         bigint not null check (seq >= 1),
    key         text not null,
    dim         int not null check (dim between 1 and 65536),
    vector      bytea not null check (octet_length(vector) = 4 * dim),
    at          timestamptz not null,
    primary key (session_id, seq, key)
);
create index session_vectors_at on session_vectors(at);

-- A user's learned profile. version grows with every write of its templates.
create table profiles (
    user_id     uuid primary key references users(id) on delete cascade,
    version     bigint not null default 0,
    updated_at  timestamptz not null default now()
);

-- One template set per field or modality key ("kf:payee", "pointer"). template is opaque (the scoring package
-- encodes it); seq_fingerprint is a hash of the key sequence of a fixed field, never the codes themselves.
-- version is the profile version at which the row was last written (optimistic concurrency).
create table profile_templates (
    user_id          uuid not null references profiles(user_id) on delete cascade,
    key              text not null check (key <> ''),
    modality         text not null,
    samples          int not null default 0 check (samples >= 0),
    enrolled         bool not null default false,
    threshold        real not null default 0,
    seq_fingerprint  bigint,
    template         bytea not null,
    version          bigint not null,
    updated_at       timestamptz not null default now(),
    primary key (user_id, key)
);

-- Feedback on a session or one of its decisions. decision_seq has no foreign key on purpose: decisions are written
-- behind the hot path, so feedback on a just-sent decision may arrive before its row. user_id is the session's
-- owner (whose profile adapts); by_operator says whether the operator or the owner sent it. Identical feedback
-- (same session, decision, label and sender side) is stored once.
create table feedback (
    id            uuid primary key,
    session_id    uuid not null references sessions(id) on delete cascade,
    decision_seq  bigint check (decision_seq >= 1),
    label         text not null check (label in ('genuine', 'fraud')),
    by_operator   bool not null,
    user_id       uuid not null,
    at            timestamptz not null default now(),
    applied_at    timestamptz,
    constraint feedback_once unique nulls not distinct (session_id, decision_seq, label, by_operator)
);
create index feedback_pending on feedback(at, id) where applied_at is null;

-- Vectors labeled fraud, per field or modality key, for the global fraud index. session_id records where a vector
-- came from (null for an imported one) and has no foreign key, so that fraud knowledge outlives the victim's
-- account. digest makes a retried insert of the same vectors land once.
create table fraud_vectors (
    id          bigserial primary key,
    key         text not null,
    dim         int not null check (dim between 1 and 65536),
    vector      bytea not null check (octet_length(vector) = 4 * dim),
    digest      bytea generated always as (sha256(vector)) stored,
    session_id  uuid,
    at          timestamptz not null default now(),
    constraint fraud_vectors_once unique nulls not distinct (key, session_id, digest)
);
create index fraud_vectors_key on fraud_vectors(key, id);

-- Operators list the live sessions (not ended, not expired).
create index sessions_live on sessions(expires_at) where ended_at is null;
