"""aqm: the command line and the local services on top of the rooms."""
