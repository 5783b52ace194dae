-- The write-behind stores decisions in chunks: one decision_chunks row per session per flush, holding that flush's
-- decisions of the session (typically 10 to 40) as parallel arrays, so that Postgres pays its per-row costs (heap
-- tuple, primary-key btree entry, WAL record, executor) once per chunk instead of once per decision. SQL readers
-- and operators keep one row per decision through the view `decisions` below, with exactly the columns of the
-- table it replaces.
--
-- A chunk covers the contiguous seqs first_seq..last_seq of one session, one array element per seq in order (the
-- decision with seq first_seq + i - 1 is element i of every array), so seq needs no array of its own. Chunks of a
-- session never overlap: Sessions.Write serializes the batches of a session (a transaction-level advisory lock),
-- drops the decisions whose seqs are stored already, and splits what is left into contiguous runs.
--
-- Measured with BenchmarkWrite (32 sessions x 20 decisions with distinct 28-dim vectors per flush, PostgreSQL 15 on
-- the shared 2-core dev box, medians of 3 runs of 1000 flushes): the backends' CPU per flush (from /proc) fell
-- from 4.6 ms (7.2 us per decision) with one row per decision to 1.7 ms (2.6 us per decision, 52 us per chunk);
-- the flush from 6.5 ms to 4.3 ms of wall time. Of what is left, a perf profile shows receiving the array
-- parameters (array_recv, ~20%) and the checks below (~10%) as the biggest parts.

-- Old nodes still writing while this runs must not slip rows past the copy below.
lock table decisions in access exclusive mode;

create table decision_chunks (
    session_id    uuid not null,
    first_seq     bigint not null,
    last_seq      bigint not null,
    created_at    timestamptz not null default now(),
    event_seqs    bigint[] not null,
    ats           timestamptz[] not null,
    actions       text[] not null,
    risks         real[] not null,
    modes         text[] not null,
    fields        text[] not null,
    modalities    text[] not null,
    statuses      text[] not null,
    sample_risks  real[] not null,    -- null element: the sample was enrolled
    reasons       text[] not null,    -- one element per decision: its reasons joined by U+001F (ReasonSeparator)
    latencies     int[] not null,
    vector_keys   text[] not null,    -- null element: the decision answered no sample
    vectors       bytea[] not null,   -- float32 little-endian; null exactly where vector_keys is null
    constraint decision_chunks_pkey primary key (session_id, first_seq),
    constraint decision_chunks_seqs check (first_seq >= 1 and first_seq <= last_seq),
    -- One-dimensional arrays of one element per seq. (cardinality counts every element of any dimension, so a
    -- two-dimensional array of the right size would pass it; array_ndims refuses that.)
    constraint decision_chunks_lengths check (
        array_ndims(event_seqs) = 1 and array_ndims(ats) = 1 and array_ndims(actions) = 1
        and array_ndims(risks) = 1 and array_ndims(modes) = 1 and array_ndims(fields) = 1
        and array_ndims(modalities) = 1 and array_ndims(statuses) = 1 and array_ndims(sample_risks) = 1
        and array_ndims(reasons) = 1 and array_ndims(latencies) = 1 and array_ndims(vector_keys) = 1
        and array_ndims(vectors) = 1
        and cardinality(event_seqs) = last_seq - first_seq + 1 and cardinality(ats) = cardinality(event_seqs)
        and cardinality(actions) = cardinality(event_seqs) and cardinality(risks) = cardinality(event_seqs)
        and cardinality(modes) = cardinality(event_seqs) and cardinality(fields) = cardinality(event_seqs)
        and cardinality(modalities) = cardinality(event_seqs) and cardinality(statuses) = cardinality(event_seqs)
        and cardinality(sample_risks) = cardinality(event_seqs) and cardinality(reasons) = cardinality(event_seqs)
        and cardinality(latencies) = cardinality(event_seqs) and cardinality(vector_keys) = cardinality(event_seqs)
        and cardinality(vectors) = cardinality(event_seqs)),
    -- The per-row checks of 002 and 003, per element. A comparison with all(...) is null (which passes) only when
    -- an element is null, so the not-null columns also refuse null elements.
    constraint decision_chunks_values check (
        array_position(event_seqs, null) is null and 0 <= all(event_seqs)
        and array_position(ats, null) is null
        and actions <@ array['allow', 'challenge', 'block']
        and array_position(risks, null) is null and 0 <= all(risks) and 1 >= all(risks)
        and array_position(modes, null) is null and array_position(fields, null) is null
        and array_position(modalities, null) is null and array_position(statuses, null) is null
        and 0 <= all(sample_risks) is not false and 1 >= all(sample_risks) is not false
        and array_position(reasons, null) is null
        and array_position(latencies, null) is null and 0 <= all(latencies)
        and '' <> all(vector_keys) is not false
        and array_positions(vector_keys, null) = array_positions(vectors, null))
);

-- A chunk of 20 decisions with 28-dim vectors is about 5.8 kB. By default Postgres would try to compress every row
-- over 2 kB (pglz: 21% of the writer's backend CPU in a perf profile of BenchmarkWrite, mostly spent failing to
-- compress float vectors) and then move the vectors out of line (toast_save_datum: 15% with lz4 instead). Rows up
-- to a page (8160 bytes) are stored as they are, at the price of space (a 5.8 kB row fills its page alone: about
-- 8 kB on disk per 20 decisions); bigger chunks move their vectors out of line first, never trying to compress them.
alter table decision_chunks set (toast_tuple_target = 8160);
alter table decision_chunks alter column vectors set storage external;

-- A chunk per contiguous run of a session's seqs (a gap, a decision the write-behind dropped, starts a new chunk),
-- cut at every thousandth seq (1-1000, 1001-2000, ...).
insert into decision_chunks (session_id, first_seq, last_seq, created_at, event_seqs, ats, actions, risks, modes,
    fields, modalities, statuses, sample_risks, reasons, latencies, vector_keys, vectors)
select session_id, min(seq), max(seq), max(at), array_agg(event_seq order by seq), array_agg(at order by seq),
    array_agg(action order by seq), array_agg(risk order by seq), array_agg(mode order by seq),
    array_agg(field order by seq), array_agg(modality order by seq), array_agg(status order by seq),
    array_agg(sample_risk order by seq), array_agg(array_to_string(reasons, E'\x1f') order by seq),
    array_agg(latency_us order by seq), array_agg(vector_key order by seq), array_agg(vector order by seq)
from (select d.*, row_number() over (partition by session_id order by seq) as rn from decisions d) d
group by session_id, seq - rn, (seq - 1) / 1000;

drop table decisions;
analyze decision_chunks;

-- One row per decision, with the columns (names, types, order) of the table 003 left. seq comes from the element's
-- position in its chunk; reasons split back into an array (an empty text gives '{}').
create view decisions as
select c.session_id, c.first_seq + u.n - 1 as seq, u.event_seq, u.at, u.action, u.risk, u.mode, u.field,
    u.modality, u.status, u.sample_risk, string_to_array(u.reasons, E'\x1f') as reasons, u.latency_us,
    u.vector_key, u.vector
from decision_chunks c
cross join lateral unnest(c.event_seqs, c.ats, c.actions, c.risks, c.modes, c.fields, c.modalities, c.statuses,
    c.sample_risks, c.reasons, c.latencies, c.vector_keys, c.vectors) with ordinality
    as u(event_seq, at, action, risk, mode, field, modality, status, sample_risk, reasons, latency_us, vector_key,
        vector, n);

-- The triggers of 003 on sessions now delete and truncate the chunks.
create or replace function sessions_delete_decisions() returns trigger language plpgsql as $$
begin
    delete from decision_chunks c using gone_sessions g where c.session_id = g.id;
    return null;
end
$$;

create or replace function sessions_truncate_decisions() returns trigger language plpgsql as $$
begin
    truncate decision_chunks;
    return null;
end
$$;
