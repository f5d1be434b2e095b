-- Payloads of received files do not stay forever. ftp_files.payload (the file as
-- received, forwarded as received) and forward_deliveries.payload (what a destination is
-- sent) are emptied (NULL) after the archive's retention (AQM_FTP_ARCHIVE_DAYS), by
-- `aqm ftp` where it prunes its archive. The rows stay: the file log, its digest (a file
-- uploaded again is still recognised) and the delivery log.
--
-- A payload forwarding still needs is never emptied: not while a delivery of the file
-- is pending (neither delivered nor given up), and not while a destination's planner has
-- not yet read the file (its forward_cursors position, less an hour of margin over the
-- planner's overlap). A destination whose cursor stops moving (removed from the
-- destinations file) holds every later payload until its forward_cursors row is deleted.

ALTER TABLE ftp_files ALTER COLUMN payload DROP NOT NULL;
COMMENT ON COLUMN ftp_files.payload IS
    'the file as received; NULL once older than the retention and no longer needed for '
    'forwarding (ftp_prune_payloads)';
ALTER TABLE forward_deliveries ALTER COLUMN payload DROP NOT NULL;
COMMENT ON COLUMN forward_deliveries.payload IS
    'what is sent; NULL once delivered (or given up) longer than the retention ago';

CREATE INDEX ftp_files_payload_kept_idx ON ftp_files (recorded_at) WHERE payload IS NOT NULL;
CREATE INDEX forward_deliveries_payload_kept_idx
    ON forward_deliveries ((coalesce(delivered_at, given_up_at)))
    WHERE payload IS NOT NULL AND coalesce(delivered_at, given_up_at) IS NOT NULL;

-- Empties the payloads recorded (or delivered) before now() - older_than, at most
-- max_rows of each table per call. Returns what it emptied, and how many old file
-- payloads are still held for forwarding.
CREATE FUNCTION ftp_prune_payloads(older_than interval, max_rows integer DEFAULT 10000)
RETURNS TABLE (files_pruned bigint, deliveries_pruned bigint, files_held bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    cutoff timestamptz := now() - older_than;
    planned_until timestamptz;
BEGIN
    IF older_than < interval '0' THEN
        RAISE EXCEPTION 'ftp_prune_payloads: negative retention %', older_than
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- files recorded before this point have been read by every destination's planner
    SELECT min(c.ftp_recorded_at) - interval '1 hour' INTO planned_until FROM forward_cursors c;

    WITH candidates AS (
        SELECT f.id FROM ftp_files f
        WHERE f.payload IS NOT NULL AND f.recorded_at < cutoff
          AND (f.readings = 0 OR f.measured_at IS NULL      -- never forwarded
               OR ((planned_until IS NULL OR f.recorded_at < planned_until)
                   AND f.id NOT IN (SELECT d.ftp_file_id FROM forward_deliveries d
                                    WHERE d.delivered_at IS NULL AND d.given_up_at IS NULL
                                      AND d.ftp_file_id IS NOT NULL)))
        ORDER BY f.recorded_at
        LIMIT max_rows
        FOR UPDATE SKIP LOCKED
    )
    UPDATE ftp_files f SET payload = NULL FROM candidates c WHERE f.id = c.id;
    GET DIAGNOSTICS files_pruned = ROW_COUNT;

    WITH candidates AS (
        SELECT d.id FROM forward_deliveries d
        WHERE d.payload IS NOT NULL AND coalesce(d.delivered_at, d.given_up_at) < cutoff
        ORDER BY coalesce(d.delivered_at, d.given_up_at)
        LIMIT max_rows
        FOR UPDATE SKIP LOCKED
    )
    UPDATE forward_deliveries d SET payload = NULL FROM candidates c WHERE d.id = c.id;
    GET DIAGNOSTICS deliveries_pruned = ROW_COUNT;

    SELECT count(*) INTO files_held FROM ftp_files f
    WHERE f.payload IS NOT NULL AND f.recorded_at < cutoff;
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION ftp_prune_payloads(interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ftp_prune_payloads(interval, integer) TO aqm_ingest;
