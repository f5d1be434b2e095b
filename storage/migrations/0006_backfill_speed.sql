-- Faster backfills: no time-only index on the two big aggregate tables, and per-station
-- cursors so `aqm aqi backfill` can run station groups in parallel and still resume.

-- TimescaleDB created `hour DESC` indexes on hourly and aqi_hourly. Every query on them
-- (dashboards/, reports/annual/source.py, the worker) filters by station through the
-- primary key (station_id, …, hour) or by a time range that chunk exclusion already
-- narrows to one or two chunks; maintaining a second index cost about a quarter of each
-- insertion. docs/worker.md ("Indexes") has the before/after timings of the dashboard
-- queries that filter by time only.
DROP INDEX IF EXISTS hourly_hour_idx;
DROP INDEX IF EXISTS aqi_hourly_hour_idx;

-- First local day not yet recomputed, per station of a backfill job. Each station
-- group's chunk moves its stations' cursors in the transaction that wrote the chunk,
-- so an interrupted parallel backfill resumes every station where it stopped, whatever
-- the number of groups of the next run. aqi_backfill_jobs.next_day stays the lowest
-- of them (a lower bound while groups are running).
CREATE TABLE aqi_backfill_progress (
    job_key    text NOT NULL REFERENCES aqi_backfill_jobs (job_key) ON DELETE CASCADE,
    station_id text NOT NULL,
    next_day   date NOT NULL,
    PRIMARY KEY (job_key, station_id)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON aqi_backfill_progress TO aqm_worker;
