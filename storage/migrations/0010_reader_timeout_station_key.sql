-- aqm_reader (Grafana dashboards, the annual report) may only read, but one unbounded
-- query (years of raw readings, a dashboard left on "last 5 years") could still hold a
-- backend and its locks for hours next to ingest. A minute is ample for what the
-- dashboards and the report ask (their SQL reads indexed ranges and the aggregates).
-- Roles are cluster-wide: this holds in every database of the cluster.
ALTER ROLE aqm_reader SET statement_timeout = '60s';

-- Every reading belongs to a registered station. Ingest already rejects readings of
-- stations it does not know (unknown_station); the key makes the database itself refuse
-- any other way in, and keeps a station with stored readings from being deleted
-- (`aqm stations sync --prune` already spares them; retire a station instead).
-- The check runs as the table owner, so aqm_ingest needs no new privilege.
ALTER TABLE readings
    ADD CONSTRAINT readings_station_id_fkey
    FOREIGN KEY (station_id) REFERENCES stations (station_id);
