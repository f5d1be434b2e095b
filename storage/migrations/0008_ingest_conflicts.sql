-- Ingest keeps a reading that arrives for a key already stored with another value or
-- status (a corrected re-upload, one parameter twice in a message) as a reject
-- (`conflicting_value`) instead of counting it as a harmless duplicate. Ingest may not
-- read stored values (0003, 0005), so it asks this function which of its readings
-- differ from what is stored: the answer is batch positions only, never a stored value.
CREATE FUNCTION ingest_conflicting_readings(
    station_ids text[], parameters text[], times timestamptz[],
    vals double precision[], statuses text[]
) RETURNS TABLE (item bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    SELECT k.ordinal
    FROM unnest(station_ids, parameters, times, vals, statuses)
         WITH ORDINALITY AS k(station_id, parameter, ts, value, status, ordinal)
    JOIN readings r USING (station_id, parameter, ts)
    -- converted units may differ in the last bits: 1e-9 relative is below any precision
    WHERE k.status IS DISTINCT FROM r.status
       OR abs(k.value - r.value) > 1e-9 * greatest(abs(r.value), 1.0)
    ORDER BY k.ordinal
$$;
REVOKE ALL ON FUNCTION ingest_conflicting_readings(text[], text[], timestamptz[],
    double precision[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest_conflicting_readings(text[], text[], timestamptz[],
    double precision[], text[]) TO aqm_ingest;
