"""Default ports of aqm's services, without the settings machinery behind them.

The command line shows these in its help, which must not load pydantic.
"""

from __future__ import annotations

DEFAULT_PG_PORT = 55432
DEFAULT_MQTT_PORT = 51883
DEFAULT_FTP_PORT = 52121
DEFAULT_METRICS_PORT = 9108
MAX_PORT = 65535
