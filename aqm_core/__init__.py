"""aqm_core: the facts every room shares — settings, parameters and units, errors.

The ground floor: it imports nothing else of the project, so every room (``ingest``,
``aqi``, ``stations``, ``storage``, ``worker``, ``reports``, ``dashboards``, ``forward``,
``qaqc``) and the ``aqm`` command on top may import it without pulling in each other.
"""

__version__ = "0.1.0"
