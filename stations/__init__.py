"""stations: the registry of monitoring stations, kept as a YAML catalogue, and the
simulated stations that stand in for them.

``catalogue`` reads and validates the file (every fault reported with its line, through
``located_yaml``); ``registry`` copies it into the ``stations`` table and reads it
back; ``broker_access`` derives the Mosquitto users and ACL that let each station
publish only as itself, with ``mosquitto_passwords`` writing the password file and
``broker_secrets`` reading the operator's passwords. ``simulator`` (around the levels of
``air_model``, written by ``payload_formats``) and ``stateair_replay`` produce what
stations would publish; ``publisher`` sends it to the broker. The ``aqm stations`` and
``aqm simulate`` commands drive all of it; see docs/stations.md.
"""
