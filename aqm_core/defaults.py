"""Defaults several rooms share, without the settings machinery behind them.

The command line shows some in its help, which must not load pydantic; the settings
(:mod:`aqm_core.settings`) take them as their defaults.
"""

from __future__ import annotations

DEFAULT_PG_PORT = 55432
DEFAULT_MQTT_PORT = 51883
DEFAULT_AMQP_PORT = 55672
DEFAULT_FTP_PORT = 52121
DEFAULT_METRICS_PORT = 9108
DEFAULT_BROKER_AUTH_PORT = 8089
MAX_PORT = 65535

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
"""Local days and reports: Vietnam's zone, UTC+7 all year (the ``AQM_TIMEZONE`` default)."""
