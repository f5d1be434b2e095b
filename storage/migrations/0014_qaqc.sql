-- QA/QC: automatic flags beside the readings, an officer's manual validation as an
-- append-only audit trail, the data level of every aggregate row, and the validator
-- role. docs/qaqc.md describes the rules, the codes and the workflow.

-- The rules of qaqc/rules.toml, by bit of the flag word (qaqc/rules.py, RULE_CODES).
CREATE TABLE qc_rule_codes (
    bit         smallint PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    kind        text NOT NULL CHECK (kind IN ('manual', 'status', 'automatic')),
    description text NOT NULL
);
INSERT INTO qc_rule_codes VALUES
    (1,   'manual',           'manual',    'inside a period an officer invalidated (aqm qc invalidate)'),
    (2,   'calibration',      'status',    'datalogger status 01: calibrating (Circular 10/2021/TT-BTNMT Art. 39)'),
    (4,   'instrument_fault', 'status',    'datalogger status 02: device error (Circular 10/2021/TT-BTNMT Art. 39)'),
    (8,   'out_of_range',     'automatic', 'above the instrument''s measuring range'),
    (16,  'negative',         'automatic', 'negative beyond instrument noise'),
    (32,  'flat_line',        'automatic', 'the same value N times in a row'),
    (64,  'spike',            'automatic', 'above or below both neighbours by more than the bound (QARTOD spike test)'),
    (128, 'pm25_gt_pm10',     'automatic', 'hourly PM2.5 above hourly PM10 beyond the tolerance');

-- Automatic flags, one row per flagged reading (readings that pass every rule have no
-- row). Written only by the AQI worker and `aqm aqi backfill`, which recompute them
-- with the hourly means; the raw reading is never changed.
CREATE TABLE qc_flags (
    station_id    text NOT NULL,
    parameter     text NOT NULL,
    ts            timestamptz NOT NULL,
    flags         smallint NOT NULL CHECK (flags > 0),  -- bits of qc_rule_codes
    rules_version text NOT NULL,                        -- qaqc/rules.toml `version`
    computed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, parameter, ts)
);
SELECT create_hypertable('qc_flags', 'ts', chunk_time_interval => INTERVAL '90 days');

-- Every manual action, append-only: who, when, what, why and the state before.
-- An invalidation or restoration covers [period_start, period_end) of one station,
-- one parameter (NULL: all). For each reading, the latest invalidate/restore covering
-- it decides (a restore undoes what it covers; nothing is ever overwritten). A
-- verification covers whole local days of one station: the level above provisional.
CREATE TABLE qc_actions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action       text NOT NULL CHECK (action IN ('invalidate', 'restore', 'verify')),
    station_id   text NOT NULL,
    parameter    text,
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL,
    reason       text CHECK (reason IN ('calibration', 'maintenance', 'instrument_fault',
                                        'power_outage', 'exceptional_event', 'other')),
    note         text,
    performed_by text NOT NULL CHECK (performed_by <> ''),  -- the officer (--by)
    db_user      text NOT NULL,                             -- the database login
    performed_at timestamptz NOT NULL,
    state_before jsonb NOT NULL,  -- the earlier actions covering any of the period
    CHECK (period_start < period_end),
    CHECK (action <> 'invalidate' OR reason IS NOT NULL),
    CHECK (action <> 'verify' OR parameter IS NULL)
);
CREATE INDEX qc_actions_station_idx ON qc_actions (station_id, period_start);

-- Who and when come from the server, not from the client; the state before is read
-- here so it cannot be left out. Runs as the table owner (reads every action).
CREATE FUNCTION qc_actions_stamp() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    NEW.db_user := session_user;
    NEW.performed_at := clock_timestamp();
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'id', a.id, 'action', a.action, 'parameter', a.parameter,
               'from', a.period_start, 'to', a.period_end, 'reason', a.reason,
               'by', a.performed_by, 'at', a.performed_at) ORDER BY a.id), '[]'::jsonb)
      INTO NEW.state_before
      FROM qc_actions AS a
     WHERE a.station_id = NEW.station_id
       AND a.period_start < NEW.period_end AND a.period_end > NEW.period_start
       AND (CASE WHEN NEW.action = 'verify' THEN a.action = 'verify'
                 ELSE a.action <> 'verify'
                      AND (a.parameter IS NULL OR NEW.parameter IS NULL
                           OR a.parameter = NEW.parameter) END);
    RETURN NEW;
END
$$;
CREATE TRIGGER qc_actions_stamp BEFORE INSERT ON qc_actions
    FOR EACH ROW EXECUTE FUNCTION qc_actions_stamp();

-- The period's station-hours go to the AQI worker, which recomputes flags, hourly
-- means, levels and indices (and the hours around, whose automatic flags can depend on
-- them). The validator needs no right on the queue for it.
CREATE FUNCTION qc_actions_queue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO aqi_dirty_hours (station_id, hour)
    SELECT NEW.station_id, h
    FROM generate_series(time_bucket(INTERVAL '1 hour', NEW.period_start),
                         NEW.period_end - INTERVAL '1 microsecond',
                         INTERVAL '1 hour') AS h;
    RETURN NULL;
END
$$;
CREATE TRIGGER qc_actions_queue AFTER INSERT ON qc_actions
    FOR EACH ROW EXECUTE FUNCTION qc_actions_queue();

-- Append-only for every role, the owner and superusers included: a correction is a new
-- action. (Only a superuser can switch triggers off, with session_replication_role.)
CREATE FUNCTION qc_actions_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'qc_actions is append-only: % refused (record a new action instead)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER qc_actions_append_only BEFORE UPDATE OR DELETE ON qc_actions
    FOR EACH ROW EXECUTE FUNCTION qc_actions_refuse_change();
CREATE TRIGGER qc_actions_no_truncate BEFORE TRUNCATE ON qc_actions
    FOR EACH STATEMENT EXECUTE FUNCTION qc_actions_refuse_change();

-- Removal counts per rule (readings of the hour each rule removed first; status 01/02
-- stay in n_flagged) and the data level of every aggregate row.
ALTER TABLE hourly
    ADD COLUMN n_qc_manual     integer NOT NULL DEFAULT 0,
    ADD COLUMN n_qc_range      integer NOT NULL DEFAULT 0,
    ADD COLUMN n_qc_negative   integer NOT NULL DEFAULT 0,
    ADD COLUMN n_qc_flat_line  integer NOT NULL DEFAULT 0,
    ADD COLUMN n_qc_spike      integer NOT NULL DEFAULT 0,
    ADD COLUMN n_qc_pm_ratio   integer NOT NULL DEFAULT 0,
    ADD COLUMN rules_version   text,
    ADD COLUMN data_level      text NOT NULL DEFAULT 'provisional'
        CHECK (data_level IN ('provisional', 'verified'));
ALTER TABLE aqi_hourly ADD COLUMN data_level text NOT NULL DEFAULT 'provisional'
    CHECK (data_level IN ('provisional', 'verified'));
ALTER TABLE aqi_daily ADD COLUMN data_level text NOT NULL DEFAULT 'provisional'
    CHECK (data_level IN ('provisional', 'verified'));

-- What dashboards and reports read.
CREATE VIEW qc_flags_named AS
SELECT f.station_id, f.parameter, f.ts, r.value, r.status, f.flags,
       ARRAY(SELECT c.code FROM qc_rule_codes AS c WHERE f.flags & c.bit <> 0 ORDER BY c.bit)
           AS codes,
       f.rules_version, f.computed_at
FROM qc_flags AS f
JOIN readings AS r USING (station_id, parameter, ts);

CREATE VIEW qc_verified_periods AS
SELECT id, station_id, period_start, period_end, performed_by, performed_at
FROM qc_actions WHERE action = 'verify';

CREATE VIEW qc_manual_periods AS
SELECT id, action, station_id, parameter, period_start, period_end, reason, note,
       performed_by, performed_at
FROM qc_actions WHERE action IN ('invalidate', 'restore');

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aqm_validator') THEN
        CREATE ROLE aqm_validator LOGIN;
    END IF;
END
$$;
REVOKE ALL ON qc_rule_codes, qc_flags, qc_actions FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO aqm_validator;

-- validator: record actions, read what it validates; nothing else is writable.
GRANT SELECT, INSERT ON qc_actions TO aqm_validator;
GRANT SELECT ON qc_rule_codes, qc_flags, qc_flags_named, qc_verified_periods,
                qc_manual_periods, stations, parameters, readings, hourly
    TO aqm_validator;

-- worker: read the actions and write the automatic flags it recomputes.
GRANT SELECT ON qc_actions, qc_rule_codes TO aqm_worker;
GRANT SELECT, INSERT, DELETE ON qc_flags TO aqm_worker;

-- reader (Grafana, reports): flags, periods and levels.
GRANT SELECT ON qc_rule_codes, qc_flags, qc_flags_named, qc_verified_periods,
                qc_manual_periods, qc_actions
    TO aqm_reader;
