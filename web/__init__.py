"""``aqm web``: the read-only public service — the citizens' VN_AQI page and its JSON,
and the OGC SensorThings API (:mod:`web.sta`).

:func:`web.app.create_app` builds the ASGI application; docs/web.md describes what the page
shows and the endpoints.
"""
