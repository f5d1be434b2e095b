"""aqm's read-only web services."""
