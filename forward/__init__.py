"""Forwarding to the Ministry (or any FTP destination): every station in one format.

``config`` (destinations from a TOML file), ``circular_file`` (the Circular 10 file of
stored readings), ``planner`` (what each destination must receive, into the delivery
log), ``ftp_client`` (one upload, confirmed by the server), ``sender`` (in time order,
with backoff while a destination is down), ``metrics``.
"""
