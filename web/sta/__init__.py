"""OGC SensorThings API v1.1, read-only Sensing part, over aqm's stored data.

``create_sta_app(pool)`` returns a Starlette application to mount at ``/sta/v1.1``;
docs/sensorthings.md describes the entities, the query options and their limits.
"""

from web.sta.app import create_sta_app

__all__ = ["create_sta_app"]
