-- Station classes decide what is published (Circular 10/2021/TT-BTNMT Art. 29-31), and
-- low-cost sensors' PM2.5 is corrected beside the raw value.
--
-- aqi_publishable(station_id, day) is the one answer to "may this station's AQI be
-- published on this day?" for reports, dashboards and the public page; it is the same
-- rule as stations/eligibility.py (tests/stations/test_eligibility.py proves they agree):
-- the class in force that day is fixed_automatic with public_aqi, and the station
-- measures PM2.5, O3 and one of NO2/SO2/CO (Art. 30(1)(a)).

-- Class history from the catalogue's optional `classes` list, oldest first:
-- [{"from": "2025-01-01", "station_type": "fixed_automatic", "public_aqi": true}, ...].
-- An entry is in force from its date until the next; before the first entry the first
-- applies; an empty list means station_type / public_aqi apply throughout.
ALTER TABLE stations
    ADD COLUMN classes jsonb NOT NULL DEFAULT '[]'::jsonb
    CHECK (jsonb_typeof(classes) = 'array'),
    ADD COLUMN pm25_correction text
    CHECK (pm25_correction IN ('us_epa_2021'));
COMMENT ON COLUMN stations.classes IS
    'Class history [{from, station_type, public_aqi}], oldest first; see aqi_publishable()';
COMMENT ON COLUMN stations.pm25_correction IS
    'Low-cost PM2.5 correction computed beside the raw value (hourly_pm25_corrected)';

-- The class of a station on a day: (station_type, public_aqi).
CREATE FUNCTION station_class_on(p_station_id text, p_day date)
RETURNS TABLE (station_type text, public_aqi boolean)
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(c.kind, s.station_type), COALESCE(c.public, s.public_aqi)
    FROM stations s
    LEFT JOIN LATERAL (
        SELECT e->>'station_type' AS kind, (e->>'public_aqi')::boolean AS public
        FROM jsonb_array_elements(s.classes) AS e
        -- the latest entry from on or before the day; else the first entry
        ORDER BY ((e->>'from')::date <= p_day) DESC,
                 CASE WHEN (e->>'from')::date <= p_day THEN (e->>'from')::date END DESC,
                 (e->>'from')::date
        LIMIT 1
    ) c ON true
    WHERE s.station_id = p_station_id
$$;

-- Circular 10/2021 Art. 30(1)(a): PM2.5, O3 and one of NO2/SO2/CO.
CREATE FUNCTION measures_art30_parameters(p_parameters text[])
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT p_parameters @> ARRAY['pm25', 'o3']::text[]
           AND p_parameters && ARRAY['no2', 'so2', 'co']::text[]
$$;

-- May the station's AQI of the day be published (and count in province AQI statistics,
-- QCVN compliance and worst-day lists)? False for an unknown station.
CREATE FUNCTION aqi_publishable(p_station_id text, p_day date)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT COALESCE((
        SELECT c.station_type = 'fixed_automatic' AND c.public_aqi
               AND measures_art30_parameters(s.parameters)
        FROM stations s, station_class_on(s.station_id, p_day) c
        WHERE s.station_id = p_station_id
    ), false)
$$;

-- The class periods of every station, for joins on day ranges (dashboards, the public
-- page): valid_to is exclusive, NULL while in force.
CREATE VIEW station_class_periods AS
WITH entries AS (
    SELECT s.station_id, s.parameters,
           (e->>'from')::date AS valid_from, e->>'station_type' AS station_type,
           (e->>'public_aqi')::boolean AS public_aqi, e.ord
    FROM stations s, jsonb_array_elements(s.classes) WITH ORDINALITY AS e(e, ord)
    UNION ALL
    SELECT s.station_id, s.parameters, NULL::date, s.station_type, s.public_aqi, 1
    FROM stations s WHERE jsonb_array_length(s.classes) = 0
)
SELECT station_id,
       -- the first period reaches back indefinitely (before the first entry it applies)
       CASE WHEN row_number() OVER w = 1 THEN NULL ELSE valid_from END AS valid_from,
       lead(valid_from) OVER w AS valid_to,
       station_type, public_aqi,
       station_type = 'fixed_automatic' AND public_aqi
           AND measures_art30_parameters(parameters) AS aqi_publishable
FROM entries
WINDOW w AS (PARTITION BY station_id ORDER BY valid_from NULLS FIRST, ord);

-- US EPA nationwide PurpleAir correction (Barkjohn et al. 2021, extended for smoke in
-- 2022), the same formula as stations/pm25_correction.py; NULL outside its validity
-- limits (PA or RH missing, PA < 0, RH outside 0-100 %); floored at 0.
CREATE FUNCTION pm25_us_epa_2021(pa double precision, rh double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN pa IS NULL OR rh IS NULL OR pa < 0 OR rh < 0 OR rh > 100 THEN NULL
        ELSE greatest(0.0, CASE
            WHEN pa < 30 THEN 0.524 * pa - 0.0862 * rh + 5.75
            WHEN pa < 50 THEN (0.786 * (pa / 20 - 1.5) + 0.524 * (1 - (pa / 20 - 1.5))) * pa
                              - 0.0862 * rh + 5.75
            WHEN pa < 210 THEN 0.786 * pa - 0.0862 * rh + 5.75
            WHEN pa < 260 THEN (0.69 * (pa / 50 - 4.2) + 0.786 * (1 - (pa / 50 - 4.2))) * pa
                               - 0.0862 * rh * (1 - (pa / 50 - 4.2)) + 2.966 * (pa / 50 - 4.2)
                               + 5.75 * (1 - (pa / 50 - 4.2))
                               + 8.84e-4 * pa * pa * (pa / 50 - 4.2)
            ELSE 2.966 + 0.69 * pa + 8.84e-4 * pa * pa
        END)
    END
$$;

-- Hourly PM2.5 of the stations whose catalogue names a correction: the raw hourly mean,
-- the corrected value beside it, and which one is used (corrected where the correction
-- applies, raw elsewhere). Raw values are never changed.
CREATE VIEW hourly_pm25_corrected AS
SELECT h.station_id, h.hour, h.mean AS raw, rh.mean AS humidity,
       s.pm25_correction AS correction,
       pm25_us_epa_2021(h.mean, rh.mean) AS corrected,
       COALESCE(pm25_us_epa_2021(h.mean, rh.mean), h.mean) AS value,
       CASE WHEN pm25_us_epa_2021(h.mean, rh.mean) IS NULL THEN 'raw' ELSE 'corrected' END
           AS used,
       h.valid
FROM hourly h
JOIN stations s ON s.station_id = h.station_id AND s.pm25_correction = 'us_epa_2021'
LEFT JOIN hourly rh ON rh.station_id = h.station_id AND rh.hour = h.hour
                   AND rh.parameter = 'humidity' AND rh.valid
WHERE h.parameter = 'pm25';

GRANT SELECT ON station_class_periods, hourly_pm25_corrected TO aqm_reader;
GRANT EXECUTE ON FUNCTION station_class_on(text, date), measures_art30_parameters(text[]),
    aqi_publishable(text, date), pm25_us_epa_2021(double precision, double precision)
    TO aqm_reader, aqm_worker;
