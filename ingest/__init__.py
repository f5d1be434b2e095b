"""ingest: MQTT → validated readings → TimescaleDB, losing nothing and storing nothing twice.

The path of a message through this room: ``decode`` (bytes → raw readings, one module
per payload format) → ``validate`` (registry, units, ranges, times) → ``batch``
(size/age, bounded, in ``service``) → ``writer`` (COPY → staging → one merge, in one
transaction) → ack to the broker (``service``). Only ``service`` knows MQTT; only
``writer`` and ``registry`` (which stations are known and active) know SQL.
"""
