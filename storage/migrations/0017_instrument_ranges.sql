-- The measuring range of each station's instruments, from the catalogue's optional
-- `instrument_ranges` (stations/catalogue.py): {"pm25": [0, 1000], "no2": [0, 500]},
-- [min, max] in the parameter's normalised unit (µg/m³). The automatic range rule of
-- qaqc/rules.py uses it for that station and parameter instead of the rules file's
-- range_max; a parameter without an entry keeps the rules file's default.
ALTER TABLE stations
    ADD COLUMN instrument_ranges jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(instrument_ranges) = 'object');
COMMENT ON COLUMN stations.instrument_ranges IS
    'Instrument measuring range per parameter {parameter: [min, max]} in µg/m³ (QA/QC range rule)';
