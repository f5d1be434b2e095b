-- A station's own datalogger names (catalogue `aliases`, e.g. {"PM2,5": "pm25"}), which
-- ingest applies before the global alias table of ingest/parameters.py. Until now the
-- catalogue validated them but nothing stored them, so ingest never saw them.
ALTER TABLE stations
    ADD COLUMN aliases jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(aliases) = 'object');
COMMENT ON COLUMN stations.aliases IS
    'Datalogger parameter name -> canonical parameter, for this station only '
    '(case and spaces ignored); applied by ingest before the global aliases';
