"""Thin command-line modules, one per ``aqm`` subcommand group; each exposes ``register``."""
