-- The report interval each station had, and since when. Gap detection (`aqm gaps`,
-- worker/gap_report.py) expects samples at the interval in force at each moment: a
-- station moved from 5-minute to 1-minute reports must not look as if it had lost four
-- samples in five before the change. The catalogue holds only today's interval, so the
-- database keeps the history itself, whatever writes the stations table.
CREATE TABLE station_report_intervals (
    station_id        text NOT NULL REFERENCES stations (station_id) ON DELETE CASCADE,
    valid_from        timestamptz NOT NULL,  -- '-infinity': since the station exists
    report_interval_s integer NOT NULL CHECK (report_interval_s BETWEEN 1 AND 3600),
    PRIMARY KEY (station_id, valid_from)
);
COMMENT ON TABLE station_report_intervals IS
    'stations.report_interval_s over time: a row per change, valid_from = when the registry '
    'changed (aqm stations sync); edit valid_from to the datalogger''s real change if known';

INSERT INTO station_report_intervals (station_id, valid_from, report_interval_s)
SELECT station_id, '-infinity', report_interval_s FROM stations;

CREATE FUNCTION record_report_interval() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    INSERT INTO station_report_intervals (station_id, valid_from, report_interval_s)
    VALUES (NEW.station_id,
            CASE WHEN TG_OP = 'INSERT' THEN '-infinity'::timestamptz ELSE now() END,
            NEW.report_interval_s)
    ON CONFLICT (station_id, valid_from)
        DO UPDATE SET report_interval_s = EXCLUDED.report_interval_s;
    RETURN NEW;
END
$$;

CREATE TRIGGER stations_report_interval_added
    AFTER INSERT ON stations
    FOR EACH ROW EXECUTE FUNCTION record_report_interval();
CREATE TRIGGER stations_report_interval_changed
    AFTER UPDATE OF report_interval_s ON stations
    FOR EACH ROW WHEN (OLD.report_interval_s IS DISTINCT FROM NEW.report_interval_s)
    EXECUTE FUNCTION record_report_interval();

GRANT SELECT ON station_report_intervals TO aqm_worker, aqm_reader;
