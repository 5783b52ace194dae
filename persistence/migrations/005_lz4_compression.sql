-- Session snapshots (about 75 kB each, most of it the rolling window of up to 2000 events, written every
-- policy.snapshot_interval per changed session) and large decision chunks are compressed when stored. With
-- Postgres's default, pglz, compressing them was the largest single cost of the Postgres backends at full load in
-- a perf profile (pglz_compress, about a quarter of their CPU). lz4 compresses several times faster; measured on
-- the load generator's sessions, Postgres CPU per WebSocket frame fell from 7.2 to 5.5-6.4 us, and a snapshot is
-- stored in 28 kB instead of 20 kB. Only values written from now on use it; a server built without lz4 keeps pglz.
do $$
begin
    if exists (select 1 from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals)) then
        alter table session_snapshots alter column snapshot set compression lz4;
        alter table decision_chunks
            alter column event_seqs set compression lz4,
            alter column ats set compression lz4,
            alter column actions set compression lz4,
            alter column risks set compression lz4,
            alter column modes set compression lz4,
            alter column fields set compression lz4,
            alter column modalities set compression lz4,
            alter column statuses set compression lz4,
            alter column sample_risks set compression lz4,
            alter column reasons set compression lz4,
            alter column latencies set compression lz4,
            alter column vector_keys set compression lz4;
    end if;
end
$$;
