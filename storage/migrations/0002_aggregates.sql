-- Hourly means and the AQI tables the worker keeps current.

CREATE TABLE hourly (
    station_id   text NOT NULL,
    parameter    text NOT NULL,
    hour         timestamptz NOT NULL,           -- hour-beginning, UTC
    mean         double precision,               -- NULL when no valid sample
    n_valid      integer NOT NULL,               -- samples with status 00
    n_flagged    integer NOT NULL,               -- samples with status 01/02 (never counted)
    n_expected   integer NOT NULL,
    completeness double precision NOT NULL,      -- n_valid / n_expected, capped at 1
    valid        boolean NOT NULL,               -- completeness >= the configured rule
    min_completeness double precision NOT NULL,  -- the rule this row was judged by
    computed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, parameter, hour)
);
SELECT create_hypertable('hourly', 'hour', chunk_time_interval => INTERVAL '30 days');

-- AQI category tables, written by `aqm db migrate` from aqi/ (the one source of truth).
-- level 1…6 = Tốt, Trung bình, Kém, Xấu, Rất xấu, Nguy hại (aqi.categories index + 1);
-- aqi_hourly.category and aqi_daily.category hold the same level.
CREATE TABLE aqi_categories (
    standard   text NOT NULL,
    level      smallint NOT NULL,
    lower      smallint NOT NULL,
    upper      smallint NOT NULL,
    name_vi    text NOT NULL,
    name_en    text NOT NULL,
    color_hex  text NOT NULL,
    advice_vi  text NOT NULL,
    advice_en  text NOT NULL,
    PRIMARY KEY (standard, level)
);

CREATE TABLE aqi_hourly (
    station_id     text NOT NULL,
    standard       text NOT NULL CHECK (standard IN ('vn_1459_2019', 'us_epa_2024')),
    hour           timestamptz NOT NULL,         -- hour-beginning, UTC
    aqi            smallint,                     -- NULL: see missing_reason
    category       smallint,
    dominant       text,
    sub_pm25       double precision,
    sub_pm10       double precision,
    sub_o3         double precision,
    sub_no2        double precision,
    sub_so2        double precision,
    sub_co         double precision,
    nowcast_pm25   double precision,
    nowcast_pm10   double precision,
    missing_reason text,
    beyond_index   boolean NOT NULL DEFAULT false,
    method_version text NOT NULL,
    computed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, standard, hour)
);
SELECT create_hypertable('aqi_hourly', 'hour', chunk_time_interval => INTERVAL '30 days');

CREATE TABLE aqi_daily (
    station_id     text NOT NULL,
    standard       text NOT NULL CHECK (standard IN ('vn_1459_2019', 'us_epa_2024')),
    day            date NOT NULL,                -- local day, Asia/Ho_Chi_Minh
    aqi            smallint,
    category       smallint,
    dominant       text,
    sub_pm25       double precision,
    sub_pm10       double precision,
    sub_o3         double precision,
    sub_no2        double precision,
    sub_so2        double precision,
    sub_co         double precision,
    pm25_mean      double precision,
    pm10_mean      double precision,
    o3_max1h       double precision,
    o3_max8h       double precision,
    no2_max1h      double precision,
    so2_max1h      double precision,
    co_max1h       double precision,
    n_hours_pm25   smallint NOT NULL DEFAULT 0,
    n_hours_pm10   smallint NOT NULL DEFAULT 0,
    n_hours_o3     smallint NOT NULL DEFAULT 0,
    n_hours_no2    smallint NOT NULL DEFAULT 0,
    n_hours_so2    smallint NOT NULL DEFAULT 0,
    n_hours_co     smallint NOT NULL DEFAULT 0,
    missing_reason text,
    beyond_index   boolean NOT NULL DEFAULT false,
    method_version text NOT NULL,
    computed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, standard, day)
);
SELECT create_hypertable('aqi_daily', 'day', chunk_time_interval => INTERVAL '365 days');
