-- Which sample slots of each hour hold a stored reading, per station and parameter: what
-- the "Mẫu thiếu" panels need for the hours that have ended, so they read raw readings
-- only for the hour still running (docs/grafana.md, "Cost").
--
-- Slot k of a station is the sample time k × report_interval_s since the epoch; a reading
-- at t fills the slot nearest it, ties to the earlier: k = ceil((t − interval/2) / interval)
-- (the rule of `aqm gaps`, worker/gaps.py). A row covers the slots whose time falls in the
-- UTC hour `hour`: bit j (from the left) of `slots` is slot ceil(epoch(hour) / interval) + j.
-- Its bit count is the number of distinct slots stored, never the number of messages.
--
-- The rows are recounted from `readings`, never incremented: the AQI worker recounts the
-- hours it claims from `aqi_dirty_hours` (which ingest fills in the transaction that
-- stores the readings) in the transaction that deletes the claim. A recount reads what is
-- stored, so a redelivered reading (not stored again: ON CONFLICT DO NOTHING), a late one
-- (its hour is queued again) or a second recount of the same hour give the same bits.
CREATE TABLE reading_slots (
    station_id        text NOT NULL,
    parameter         text NOT NULL,
    hour              timestamptz NOT NULL,   -- hour-beginning (UTC) of the slots' times
    report_interval_s integer NOT NULL CHECK (report_interval_s BETWEEN 1 AND 3600),
    slots             bit varying NOT NULL,   -- one bit per slot of the hour, 1 = stored
    PRIMARY KEY (station_id, parameter, hour)
);
SELECT create_hypertable('reading_slots', 'hour', chunk_time_interval => INTERVAL '90 days',
                         create_default_indexes => false);

COMMENT ON TABLE reading_slots IS
    'Stored sample slots per station, parameter and UTC hour (bit j = slot '
    'ceil(epoch(hour)/report_interval_s) + j), recounted from readings by the AQI worker.';

-- Recount the slot-hours (station, hour) given as two arrays of equal length (hours are
-- truncated to the UTC hour) from the stored readings, at the station's current
-- interval. A reading of hour H can fill a slot of hour H + 1 (at most half an interval
-- later), so whoever recounts the hour of a changed reading recounts the next one too.
-- Each station-hour is read per parameter through the readings' primary key (the row
-- comparisons bound the index range; the plain ones keep chunk exclusion): the AQI
-- worker's few hundred claimed hours. Runs as the table owner: callers need EXECUTE only.
CREATE FUNCTION recount_reading_slots(p_stations text[], p_hours timestamptz[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    written bigint;
BEGIN
    DELETE FROM reading_slots AS rs
    USING unnest(p_stations, p_hours) AS x(station_id, hour)
    WHERE rs.station_id = x.station_id AND rs.hour = time_bucket(INTERVAL '1 hour', x.hour);

    INSERT INTO reading_slots (station_id, parameter, hour, report_interval_s, slots)
    SELECT t.station_id, k.parameter, t.hour, t.iv,
           bit_or(set_bit(lpad('', (t.kl - t.kf + 1)::integer, '0')::bit varying,
                          (k.slot - t.kf)::integer, 1))
    FROM (
        SELECT u.station_id, u.hour, s.report_interval_s AS iv,
               ceil(date_part('epoch', u.hour) / s.report_interval_s)::bigint AS kf,
               ceil((date_part('epoch', u.hour) + 3600) / s.report_interval_s)::bigint - 1 AS kl
        FROM (SELECT DISTINCT x.station_id, time_bucket(INTERVAL '1 hour', x.hour) AS hour
              FROM unnest(p_stations, p_hours) AS x(station_id, hour)) AS u
        JOIN stations s ON s.station_id = u.station_id
    ) AS t
    CROSS JOIN parameters AS pa
    CROSS JOIN LATERAL (
        SELECT r.parameter,
               ceil((date_part('epoch', r.ts) - t.iv / 2.0::float8) / t.iv)::bigint AS slot
        FROM readings AS r
        WHERE r.station_id = t.station_id AND r.parameter = pa.parameter
          AND (r.station_id, r.parameter, r.ts)
              >= (t.station_id, pa.parameter, to_timestamp((t.kf - 1) * t.iv::float8))
          AND (r.station_id, r.parameter, r.ts)
              <= (t.station_id, pa.parameter, to_timestamp((t.kl + 1) * t.iv::float8))
          AND r.ts >= to_timestamp((t.kf - 1) * t.iv::float8)
          AND r.ts <= to_timestamp((t.kl + 1) * t.iv::float8)
    ) AS k
    WHERE k.slot BETWEEN t.kf AND t.kl
    GROUP BY t.station_id, k.parameter, t.hour, t.iv;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END
$$;
REVOKE ALL ON FUNCTION recount_reading_slots(text[], timestamptz[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recount_reading_slots(text[], timestamptz[]) TO aqm_worker;

-- Recount every slot-hour from the hour of p_first to p_last (both included) of the
-- stations p_stations (NULL: all) in one pass over their readings: `aqm aqi backfill`,
-- the readings stored before this migration, a change of interval. The same slot rule
-- as recount_reading_slots; each slot's hour is the UTC hour of its time.
CREATE FUNCTION recount_reading_slots_between(p_stations text[], p_first timestamptz,
                                              p_last timestamptz)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    first_hour timestamptz := time_bucket(INTERVAL '1 hour', p_first);
    written bigint;
BEGIN
    DELETE FROM reading_slots AS rs
    WHERE (p_stations IS NULL OR rs.station_id = ANY (p_stations))
      AND rs.hour >= first_hour AND rs.hour <= p_last;

    INSERT INTO reading_slots (station_id, parameter, hour, report_interval_s, slots)
    SELECT y.station_id, y.parameter, y.hour, y.iv,
           bit_or(set_bit(lpad('', (y.kl - y.kf + 1)::integer, '0')::bit varying,
                          (y.slot - y.kf)::integer, 1))
    FROM (
        SELECT x.*, ceil(date_part('epoch', x.hour) / x.iv)::bigint AS kf,
               ceil((date_part('epoch', x.hour) + 3600) / x.iv)::bigint - 1 AS kl
        FROM (
            SELECT r.station_id, r.parameter, s.report_interval_s AS iv, k.slot,
                   time_bucket(INTERVAL '1 hour', to_timestamp(k.slot * s.report_interval_s::float8))
                   AS hour
            FROM readings AS r
            JOIN stations AS s ON s.station_id = r.station_id
            CROSS JOIN LATERAL (
                SELECT ceil((date_part('epoch', r.ts) - s.report_interval_s / 2.0::float8)
                            / s.report_interval_s)::bigint AS slot
            ) AS k
            WHERE (p_stations IS NULL OR r.station_id = ANY (p_stations))
              AND r.ts >= first_hour - INTERVAL '1 hour' AND r.ts < p_last + INTERVAL '2 hours'
        ) AS x
        WHERE x.hour >= first_hour AND x.hour <= p_last
    ) AS y
    GROUP BY y.station_id, y.parameter, y.hour, y.iv;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END
$$;
REVOKE ALL ON FUNCTION recount_reading_slots_between(text[], timestamptz, timestamptz)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recount_reading_slots_between(text[], timestamptz, timestamptz)
    TO aqm_worker;

-- A station's slots depend on its interval: when the catalogue changes it, every hour
-- counted so far is recounted at the new one (rare; one pass over the station's readings).
CREATE FUNCTION reading_slots_interval_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM recount_reading_slots_between(ARRAY[NEW.station_id], min(rs.hour), max(rs.hour))
    FROM reading_slots AS rs
    WHERE rs.station_id = NEW.station_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER reading_slots_interval_changed
    AFTER UPDATE OF report_interval_s ON stations
    FOR EACH ROW WHEN (OLD.report_interval_s IS DISTINCT FROM NEW.report_interval_s)
    EXECUTE FUNCTION reading_slots_interval_changed();

GRANT SELECT ON reading_slots TO aqm_worker, aqm_reader;

-- The readings stored so far: every hour that holds one, and the next.
SELECT recount_reading_slots_between(NULL, min(ts), max(ts) + INTERVAL '1 hour') FROM readings;
