-- Ingest's merge names its conflict targets and returns the keys of the rows it
-- inserted (to queue their station-hours), which PostgreSQL allows only with SELECT on
-- those columns. Grant exactly them: values and payloads stay unreadable to ingest.
GRANT SELECT (station_id, parameter, ts) ON readings TO aqm_ingest;
GRANT SELECT (payload_digest, reading_index, reason_code) ON rejected_messages TO aqm_ingest;
