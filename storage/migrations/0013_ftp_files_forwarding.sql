-- Circular 10/2021/TT-BTNMT files received over FTP, and their forwarding to the
-- Ministry (or any other destination) with a delivery log per file and destination.

-- One row per file received by `aqm ftp` (or found in its spool), written in the same
-- transaction as the file's readings and rejects. The station is the FTP account or
-- the spool folder the file arrived in, never a name inside the file. A file received
-- twice with the same name and content is recorded once.
CREATE TABLE ftp_files (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id  text NOT NULL,
    file_name   text NOT NULL,          -- path as uploaded, relative to the station's folder
    digest      bytea NOT NULL,         -- SHA-256 of the content
    size        integer NOT NULL,
    measured_at timestamptz,            -- the measurement time (first valid reading or name)
    received_at timestamptz NOT NULL,   -- upload complete
    readings    integer NOT NULL,       -- readings that passed validation
    rejected    integer NOT NULL,       -- items rejected before storing
    payload     bytea NOT NULL,         -- the file as received (forwarded as received)
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (station_id, file_name, digest)
);
CREATE INDEX ftp_files_recorded_at_idx ON ftp_files (recorded_at);
CREATE INDEX ftp_files_station_measured_idx ON ftp_files (station_id, measured_at);

-- One row per file and destination: what `aqm forward` must send, and what happened.
-- A row is marked delivered only after the destination server confirmed the upload.
CREATE TABLE forward_deliveries (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    destination    text NOT NULL,
    station_id     text NOT NULL,
    measured_at    timestamptz NOT NULL,
    file_name      text NOT NULL,       -- name sent (the Circular's naming for built files)
    remote_path    text NOT NULL,       -- folder on the destination server
    origin         text NOT NULL CHECK (origin IN ('ftp', 'readings')),
    ftp_file_id    bigint REFERENCES ftp_files (id) ON DELETE SET NULL,
    payload        bytea NOT NULL,
    available_at   timestamptz NOT NULL, -- when aqm had the data (upload or commit)
    planned_at     timestamptz NOT NULL DEFAULT now(),
    attempts       integer NOT NULL DEFAULT 0,
    first_error    text,
    first_error_at timestamptz,
    last_error     text,
    last_error_at  timestamptz,
    last_attempt_at timestamptz,
    delivered_at   timestamptz,
    given_up_at    timestamptz,          -- refused permanently (5xx) more than the limit
    UNIQUE (destination, station_id, remote_path, file_name)
);
CREATE INDEX forward_deliveries_pending_idx ON forward_deliveries (destination, measured_at, id)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;
CREATE INDEX forward_deliveries_station_idx ON forward_deliveries (station_id, measured_at);
COMMENT ON TABLE forward_deliveries IS
    'Delivery log of aqm forward: per file and destination, attempts, first and last '
    'error, delivery time; delay = delivered_at - available_at';

-- How far each destination's planner has read ftp_files and readings.
CREATE TABLE forward_cursors (
    destination text PRIMARY KEY,
    ftp_recorded_at timestamptz NOT NULL,
    readings_inserted_at timestamptz NOT NULL,
    started_at timestamptz NOT NULL      -- nothing older is planned (backfill_hours)
);

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aqm_forward') THEN
        CREATE ROLE aqm_forward LOGIN;
    END IF;
END
$$;

-- ingest (aqm ftp writes as aqm_ingest): record files; the merge names its conflict target
GRANT INSERT ON ftp_files TO aqm_ingest;
GRANT SELECT (station_id, file_name, digest) ON ftp_files TO aqm_ingest;

-- forward: read what it sends, keep its own log
GRANT USAGE ON SCHEMA public TO aqm_forward;
GRANT SELECT ON stations, readings, ftp_files TO aqm_forward;
GRANT SELECT, INSERT, UPDATE ON forward_deliveries, forward_cursors TO aqm_forward;

-- reader (Grafana): the delivery log and the file log without payloads
GRANT SELECT (id, destination, station_id, measured_at, file_name, remote_path, origin,
              ftp_file_id, available_at, planned_at, attempts, first_error, first_error_at,
              last_error, last_error_at, last_attempt_at, delivered_at, given_up_at)
    ON forward_deliveries TO aqm_reader;
GRANT SELECT (id, station_id, file_name, size, measured_at, received_at, readings, rejected,
              recorded_at)
    ON ftp_files TO aqm_reader;
