"""File and folder names of Circular 10/2021/TT-BTNMT (Annex): what dataloggers upload
and what aqm writes when it forwards.

``<Province>_<Facility>_<Station>_yyyyMMddHHmmss.txt`` in folders
``<Station>/yyyy/MM/dd/``, time in local time. The name never decides the station (the
FTP account or the spool folder does); it only supplies the measurement time of a file
whose lines cannot be read, and the name of a file aqm builds itself.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

# The time is the last underscore-separated field before the extension.
_STAMPED = re.compile(r"^(?P<stem>.*?)_?(?P<stamp>\d{14})\.(?:txt|TXT)$")


def measured_at_from_name(name: str, local_tz: tzinfo) -> datetime | None:
    """The measurement time a file name carries (``…_yyyyMMddHHmmss.txt``), if any."""
    base = name.rsplit("/", 1)[-1]
    match = _STAMPED.match(base)
    if match is None:
        return None
    try:
        return datetime.strptime(match["stamp"], "%Y%m%d%H%M%S").replace(tzinfo=local_tz)
    except ValueError:
        return None


def expand(
    template: str,
    *,
    province: str,
    facility: str,
    station: str,
    measured_at: datetime,
    local_tz: tzinfo,
) -> str:
    """Fill a name or path template: ``{province}``, ``{facility}``, ``{station}`` and
    the local measurement time's ``{yyyy}``, ``{MM}``, ``{dd}``, ``{HH}``, ``{mm}``,
    ``{ss}`` and ``{stamp}`` (yyyyMMddHHmmss).

    Raises KeyError naming an unknown field.
    """
    local = measured_at.astimezone(local_tz)
    fields = {
        "province": province,
        "facility": facility,
        "station": station,
        "yyyy": f"{local.year:04d}",
        "MM": f"{local.month:02d}",
        "dd": f"{local.day:02d}",
        "HH": f"{local.hour:02d}",
        "mm": f"{local.minute:02d}",
        "ss": f"{local.second:02d}",
        "stamp": local.strftime("%Y%m%d%H%M%S"),
    }
    return template.format_map(fields)


DEFAULT_FILE_TEMPLATE = "{province}_{facility}_{station}_{stamp}.txt"
DEFAULT_PATH_TEMPLATE = "{station}/{yyyy}/{MM}/{dd}"
