"""Automatic QA/QC of readings (pure numpy rules, versioned thresholds in rules.toml)."""
