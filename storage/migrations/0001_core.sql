-- Core tables: station registry, parameters, readings, rejected messages, dirty queue.
-- Hour convention (used everywhere): timestamps are stored in UTC; an hour is named by
-- its beginning; the local day is the 24 hours from 00:00 Asia/Ho_Chi_Minh (UTC+7,
-- no daylight saving), i.e. 1459's hours 01:00…24:00 labelled by their end.

CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE stations (
    station_id        text PRIMARY KEY
                      CHECK (station_id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
    name              text NOT NULL,
    ward              text,
    district          text,
    latitude          double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude         double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    elevation_m       double precision,
    station_type      text NOT NULL
                      CHECK (station_type IN ('fixed_automatic', 'mobile', 'low_cost_sensor')),
    public_aqi        boolean NOT NULL DEFAULT false,
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
    installed_on      date,
    retired_on        date,
    report_interval_s integer NOT NULL DEFAULT 300 CHECK (report_interval_s BETWEEN 1 AND 3600),
    parameters        text[] NOT NULL DEFAULT '{}',
    notes             text,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN stations.public_aqi IS
    'Circular 10/2021/TT-BTNMT Art. 29-31: only qualifying stations may publish an AQI; '
    'others are reference stations whose concentrations may be shown';

CREATE TABLE parameters (
    parameter     text PRIMARY KEY,
    unit          text NOT NULL,
    min_plausible double precision NOT NULL,
    max_plausible double precision NOT NULL,
    name_vi       text NOT NULL,
    name_en       text NOT NULL,
    is_pollutant  boolean NOT NULL,
    CHECK (min_plausible < max_plausible)
);

-- One row per station, parameter and measurement time. Values are in the parameter's
-- normalised unit (µg/m³ for every pollutant, CO included); the value and unit the
-- station sent are kept beside them.
CREATE TABLE readings (
    station_id     text NOT NULL,
    parameter      text NOT NULL,
    ts             timestamptz NOT NULL,
    value          double precision NOT NULL,
    original_value double precision NOT NULL,
    original_unit  text NOT NULL,
    status         text NOT NULL DEFAULT '00' CHECK (status ~ '^[0-9]{2}$'),
    source_format  text NOT NULL CHECK (source_format IN ('aqm_json', 'tt10_text', 'senml')),
    received_at    timestamptz NOT NULL,
    inserted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, parameter, ts)
);
SELECT create_hypertable('readings', 'ts', chunk_time_interval => INTERVAL '7 days');
CREATE INDEX readings_inserted_at_idx ON readings (inserted_at DESC);

-- Everything ingest could not store, with the raw payload as received. The digest makes
-- a redelivered message (committed, but the ack was lost) land here only once.
CREATE TABLE rejected_messages (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at    timestamptz NOT NULL,
    topic          text NOT NULL,
    station_id     text,
    reason_code    text NOT NULL,
    reason         text NOT NULL,
    reading_index  integer NOT NULL DEFAULT -1,
    payload        bytea NOT NULL,
    payload_digest bytea NOT NULL,
    inserted_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (payload_digest, reading_index, reason_code)
);
CREATE INDEX rejected_messages_received_at_idx ON rejected_messages (received_at DESC);
COMMENT ON COLUMN rejected_messages.reading_index IS
    '-1: the whole message was rejected; otherwise the position of the rejected reading';

-- Station-hours whose AQI must be recomputed. Append-only for ingest (no conflicts, so
-- ingest never waits for a worker); workers claim rows with FOR UPDATE SKIP LOCKED.
CREATE TABLE aqi_dirty_hours (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id text NOT NULL,
    hour       timestamptz NOT NULL,
    marked_at  timestamptz NOT NULL DEFAULT now()
);
