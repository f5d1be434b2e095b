-- What the AQI worker needs beyond 0003: the right to lock queue rows, and a cursor
-- table that makes `aqm aqi backfill` resumable.

-- SELECT … FOR UPDATE SKIP LOCKED (the claim) needs UPDATE privilege on the queue,
-- although the worker only ever deletes the rows it claimed.
GRANT UPDATE ON aqi_dirty_hours TO aqm_worker;

-- One row per backfill request (range and station filter). A chunk of days and the
-- cursor move forward in the same transaction, so an interrupted backfill resumes at
-- the first chunk not yet committed.
CREATE TABLE aqi_backfill_jobs (
    job_key     text PRIMARY KEY,              -- '<from>..<to>:<station or *>'
    from_day    date NOT NULL,                 -- local days, Asia/Ho_Chi_Minh
    to_day      date NOT NULL,                 -- inclusive
    station_id  text,                          -- NULL: every station
    next_day    date NOT NULL,                 -- first local day not yet recomputed
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CHECK (from_day <= to_day),
    CHECK (next_day BETWEEN from_day AND to_day + 1)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON aqi_backfill_jobs TO aqm_worker;
