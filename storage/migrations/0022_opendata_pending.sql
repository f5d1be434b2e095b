-- Station-years whose bulk open data files (docs/opendata.md) are out of date. The AQI
-- worker and `aqm aqi backfill` mark them in the transaction that changes hourly,
-- aqi_hourly or aqi_daily, so a commit never goes unnoticed and a crash marks nothing.
-- One row per station and local year (AQM_TIMEZONE) keeps the table small whether or not
-- anything rewrites the files; each new mark raises `version`, and the writer deletes
-- a row only at the version it read before exporting, so a change committed during an
-- export leaves the row for the next round.
CREATE TABLE opendata_pending (
    station_id text NOT NULL,
    year       integer NOT NULL CHECK (year BETWEEN 1970 AND 9999),
    version    bigint NOT NULL DEFAULT 1,
    marked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, year)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON opendata_pending TO aqm_worker;
GRANT SELECT ON opendata_pending TO aqm_reader;
