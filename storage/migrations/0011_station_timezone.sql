-- The time zone a station's datalogger writes Circular 10/2021 text in (catalogue
-- `timezone`). The format carries no zone; until now every station was read in
-- AQM_TIMEZONE, so a datalogger whose clock is set to UTC had every reading stored
-- 7 hours early. NULL: the deployment's AQM_TIMEZONE. The catalogue checks the name
-- against the IANA database; the CHECK keeps out what cannot be a zone name.
ALTER TABLE stations
    ADD COLUMN timezone text
    CHECK (timezone IS NULL OR timezone ~ '^[A-Za-z][A-Za-z0-9_+/-]{0,63}$');
COMMENT ON COLUMN stations.timezone IS
    'IANA time zone of this station''s Circular 10/2021 text timestamps; NULL: AQM_TIMEZONE';
