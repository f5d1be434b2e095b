"""aqm: the command line, settings and local services that tie the rooms together."""

__version__ = "0.1.0"
