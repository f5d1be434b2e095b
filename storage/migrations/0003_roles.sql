-- Least-privilege roles. Passwords are set at deployment (aqm db migrate reads
-- AQM_INGEST_PASSWORD, AQM_WORKER_PASSWORD, AQM_READER_PASSWORD when set).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aqm_ingest') THEN
        CREATE ROLE aqm_ingest LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aqm_worker') THEN
        CREATE ROLE aqm_worker LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aqm_reader') THEN
        CREATE ROLE aqm_reader LOGIN;
    END IF;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO aqm_ingest, aqm_worker, aqm_reader;

-- ingest: read the registry, append readings, rejects and dirty marks; nothing else
GRANT SELECT ON stations, parameters TO aqm_ingest;
GRANT INSERT ON readings, rejected_messages, aqi_dirty_hours TO aqm_ingest;

-- worker: read readings and the registry, claim dirty hours, write the aggregates
GRANT SELECT ON stations, parameters, readings, aqi_categories TO aqm_worker;
GRANT SELECT, INSERT, DELETE ON aqi_dirty_hours TO aqm_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON hourly, aqi_hourly, aqi_daily TO aqm_worker;

-- reader (Grafana, reports): what dashboards and reports show; rejected payloads stay hidden
GRANT SELECT ON stations, parameters, readings, hourly, aqi_hourly, aqi_daily, aqi_categories
    TO aqm_reader;
GRANT SELECT (id, received_at, topic, station_id, reason_code, reason, reading_index, inserted_at)
    ON rejected_messages TO aqm_reader;
