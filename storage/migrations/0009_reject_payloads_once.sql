-- Rejected payloads are stored once per message, not once per reject row: a message with
-- thousands of rejected values would otherwise copy its payload into every row (one
-- 128 KiB message wrote 344 MB). A reject row references its message's payload by the
-- digest it already carries (sha256 of topic, NUL, payload). Rows written before this
-- migration keep their payload in rejected_messages.payload; ingest now leaves it NULL.
CREATE TABLE rejected_payloads (
    payload_digest bytea PRIMARY KEY,
    payload        bytea NOT NULL,          -- as received (of a payload_too_large message,
                                            -- its first 64 KiB)
    payload_bytes  integer NOT NULL CHECK (payload_bytes >= 0),  -- size as received
    inserted_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN rejected_payloads.payload_bytes IS
    'size of the payload as received; larger than length(payload) only for payload_too_large';

ALTER TABLE rejected_messages ALTER COLUMN payload DROP NOT NULL;
COMMENT ON COLUMN rejected_messages.payload IS
    'NULL: the payload is in rejected_payloads (same payload_digest), stored once per message';

-- What the rejects of a message were before payloads moved: every column, the payload
-- wherever it is stored. For officers and the superuser; no role but the owner reads it,
-- since payloads stay hidden from Grafana (0003) and from ingest (0005).
CREATE VIEW rejected_messages_with_payload AS
SELECT m.id, m.received_at, m.topic, m.station_id, m.reason_code, m.reason, m.reading_index,
       coalesce(m.payload, p.payload) AS payload, m.payload_digest,
       coalesce(p.payload_bytes, length(m.payload)) AS payload_bytes, m.inserted_at
FROM rejected_messages m
LEFT JOIN rejected_payloads p ON p.payload_digest = m.payload_digest;

-- ingest appends payloads; ON CONFLICT (payload_digest) needs SELECT on that column only.
GRANT INSERT ON rejected_payloads TO aqm_ingest;
GRANT SELECT (payload_digest) ON rejected_payloads TO aqm_ingest;

-- Which of ingest's readings differ from what is stored (a `conflicting_value`). Ingest
-- may not read stored values; 0008's function answered for any number of candidates of
-- one key per call, so 20,001 candidate values recovered a stored value in one call.
-- This one answers batch positions only, for at most 10,000 candidates and each key at
-- most once per call: one guess per key and call, which telling a duplicate from a
-- conflict cannot avoid (docs/reliability.md, "Who may do what"). Times must be UTC.
DROP FUNCTION IF EXISTS ingest_conflicting_readings(text[], text[], timestamptz[],
    double precision[], text[]);
CREATE FUNCTION ingest_conflicting_readings(
    station_ids text[], parameters text[], times timestamptz[],
    vals double precision[], statuses text[]
) RETURNS TABLE (item bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    n integer := coalesce(cardinality(station_ids), 0);
BEGIN
    IF n > 10000 THEN
        RAISE EXCEPTION 'ingest_conflicting_readings: % candidates, at most 10000 per call', n
            USING ERRCODE = 'program_limit_exceeded';
    END IF;
    IF n <> coalesce(cardinality(parameters), 0) OR n <> coalesce(cardinality(times), 0)
       OR n <> coalesce(cardinality(vals), 0) OR n <> coalesce(cardinality(statuses), 0) THEN
        RAISE EXCEPTION 'ingest_conflicting_readings: arrays of different lengths'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT count(DISTINCT (s, p, t)) FROM unnest(station_ids, parameters, times) AS k(s, p, t))
       <> n THEN
        RAISE EXCEPTION 'ingest_conflicting_readings: each reading key at most once per call'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    SELECT k.ordinal
    FROM unnest(station_ids, parameters, times, vals, statuses)
         WITH ORDINALITY AS k(station_id, parameter, ts, value, status, ordinal)
    JOIN readings r
      ON r.station_id = k.station_id AND r.parameter = k.parameter AND r.ts = k.ts
    -- converted units may differ in the last bits: 1e-9 relative is below any precision
    WHERE k.status IS DISTINCT FROM r.status
       OR k.value IS NULL
       OR abs(k.value - r.value) > 1e-9 * greatest(abs(r.value), 1.0)
    ORDER BY k.ordinal;
END
$$;
REVOKE ALL ON FUNCTION ingest_conflicting_readings(text[], text[], timestamptz[],
    double precision[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest_conflicting_readings(text[], text[], timestamptz[],
    double precision[], text[]) TO aqm_ingest;
