-- The write-behind stores a decision and its sample's vector in one row instead of two, and without a foreign-key
-- trigger per row. Before, each sample cost a decisions row and a session_vectors row, each with an RI trigger
-- query checking sessions (about 40% of each row's insert time). Now:
--   * decisions carries the sample's vector (vector_key, vector: both null when the decision answered no sample);
--   * decisions has no foreign key to sessions. Integrity holds without a per-row trigger: the write-behind's batch
--     (Sessions.Write, one transaction) first locks its sessions' rows `for key share`, so a session cannot be
--     deleted between the batch's existence check and its commit, and deleting sessions deletes their decisions
--     through the statement-level triggers below (deletes are rare: an account's deletion cascades to its
--     sessions).
-- Measured with EXPLAIN ANALYZE (median of 15) of 5000 samples inserted in one statement into tables of 1M rows,
-- PostgreSQL 15 on the 2-core dev box: before, 21.4 us per sample (decisions 11.2 us + session_vectors 10.2 us,
-- each ~3.8 us of it in the RI trigger); after, 6.4 us (one decisions row; of the saving, 1.6 us per row comes from
-- sending reasons as one separated text instead of a JSON array, see Sessions.Write). BenchmarkWrite, 32 sessions x
-- 20 decisions with 28-dim vectors per flush: 17.5 ms -> 7.5 ms per flush.

-- Old nodes still writing while this runs must not slip rows past the copy below.
lock table decisions, session_vectors in access exclusive mode;

-- Rewritten rather than updated in place: about 2.5 times faster on a large table, and leaves no dead copy of
-- every row behind. The constraints of 002 come along by name (like ... including constraints).
create table decisions_v3 (like decisions including defaults including constraints);
alter table decisions_v3
    add column vector_key text,
    add column vector bytea;

-- A vector whose decision row does not exist (never written, or written by a session deleted since) is dropped:
-- nothing can ask for it any more. The engine writes at most one vector per decision; the old schema allowed
-- several keys under one decision, and of those only the first key's is kept.
insert into decisions_v3
select d.*, v.key, v.vector
from decisions d
left join (select distinct on (session_id, seq) session_id, seq, key, vector from session_vectors
        order by session_id, seq, key) v
    on v.session_id = d.session_id and v.seq = d.seq;

alter table decisions_v3
    add constraint decisions_pkey_v3 primary key (session_id, seq),
    add constraint decisions_vector_pair check ((vector_key is null) = (vector is null)),
    add constraint decisions_vector_key check (vector_key <> ''),
    -- float32 little-endian, 1 to 65536 dimensions (persistence.MaxVectorDim), as in 002's vector tables.
    add constraint decisions_vector_len check (octet_length(vector) between 4 and 4 * 65536
        and octet_length(vector) % 4 = 0);

drop table session_vectors;
drop table decisions;
alter table decisions_v3 rename to decisions;
alter table decisions rename constraint decisions_pkey_v3 to decisions_pkey;
analyze decisions;

-- Deleting sessions deletes their decisions, once per statement: a user's deletion cascades to all their sessions
-- in one statement.
create function sessions_delete_decisions() returns trigger language plpgsql as $$
begin
    delete from decisions d using gone_sessions g where d.session_id = g.id;
    return null;
end
$$;
create trigger sessions_delete_decisions after delete on sessions
    referencing old table as gone_sessions
    for each statement execute function sessions_delete_decisions();

create function sessions_truncate_decisions() returns trigger language plpgsql as $$
begin
    truncate decisions;
    return null;
end
$$;
create trigger sessions_truncate_decisions after truncate on sessions
    for each statement execute function sessions_truncate_decisions();

-- A session's id never changes; refusing a change keeps decisions from being orphaned by one (the foreign key
-- refused it too).
create function sessions_keep_id() returns trigger language plpgsql as $$
begin
    raise exception 'sessions.id is immutable (% -> %)', old.id, new.id using errcode = 'foreign_key_violation';
end
$$;
create trigger sessions_keep_id before update of id on sessions
    for each row when (old.id is distinct from new.id) execute function sessions_keep_id();
