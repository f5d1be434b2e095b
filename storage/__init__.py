"""storage: the TimescaleDB schema (versioned SQL migrations), roles and table access."""
