"""What the air over a northern Vietnamese town typically does, as smooth curves of time.

The simulator draws readings around these levels. They are shaped after the published
picture of Hà Nội and the Red River delta (US Embassy Hà Nội PM2.5 2016–2020 in
``../shared/data``; provincial state-of-environment reports), not fitted to any station:

* **Season.** PM2.5 is highest in the dry north-east monsoon (December–February, monthly
  means of 70–80 µg/m³: temperature inversions, rice-straw burning, little rain) and
  lowest in the rainy summer (June–August, 20–30 µg/m³); PM2.5 is then a larger share of
  PM10. Temperature runs from about 17 °C in January to about 30 °C in July.
* **Day.** PM rises overnight under the shallow boundary layer and in the morning rush
  and dips in the mixed afternoon; NO2 and CO peak with the rush hours (07–09 h and
  17–19 h local); O3 is photochemical and peaks in the early afternoon.

Levels are in each parameter's normalised unit (``aqm_core.parameters``). Everything here
is a pure function of local time; the randomness lives in ``stations.simulator``.
"""

from __future__ import annotations

import math
from datetime import datetime

# Yearly means and half-ranges of the seasonal cosine (peak in mid-January).
PM25_YEAR_MEAN = 47.0
PM25_SEASON_HALF_RANGE = 27.0
PEAK_DAY_OF_YEAR = 15.0
# PM2.5/PM10 mass ratio: finer (combustion) particles in winter, coarser dust in summer.
PM_RATIO_MEAN = 0.62
PM_RATIO_SEASON = 0.06
# TSP/PM10 ratio of an urban site with road dust.
TSP_PER_PM10 = 1.4

# Morning and evening rush hours, local time (centre, width in hours).
MORNING_RUSH = (8.0, 1.1)
EVENING_RUSH = (18.0, 1.2)


def season(local: datetime) -> float:
    """+1 in mid-January (dry winter) to −1 in mid-July (rainy summer)."""
    day = local.timetuple().tm_yday + local.hour / 24
    return math.cos(2 * math.pi * (day - PEAK_DAY_OF_YEAR) / 365.25)


def _bump(hour: float, centre: float, width: float) -> float:
    """A Gaussian bump of height 1 around ``centre``, wrapping around midnight."""
    distance = min(abs(hour - centre), 24 - abs(hour - centre))
    return math.exp(-0.5 * (distance / width) ** 2)


def rush_hour(hour: float) -> float:
    """About 1 in the middle of a rush hour, near 0 at night."""
    return _bump(hour, *MORNING_RUSH) + 0.9 * _bump(hour, *EVENING_RUSH)


def expected_levels(local: datetime) -> dict[str, float]:
    """Typical value of every parameter at local time ``local`` (normalised units)."""
    s = season(local)
    h = local.hour + local.minute / 60 + local.second / 3600
    rush = rush_hour(h)
    # Boundary layer: shallow at night and in the morning, deep in the afternoon.
    mixing = 1.0 + 0.25 * _bump(h, 8.0, 1.5) + 0.3 * _bump(h, 22.0, 3.0) - 0.3 * _bump(h, 14.5, 2.5)
    pm25 = (PM25_YEAR_MEAN + PM25_SEASON_HALF_RANGE * s) * mixing * (1 + 0.15 * rush)
    pm10 = pm25 / (PM_RATIO_MEAN + PM_RATIO_SEASON * s)
    daylight = _bump(h, 13.5, 2.6)
    temperature = 24.0 - 6.5 * s + 3.5 * math.cos(2 * math.pi * (h - 14.0) / 24)
    return {
        "pm25": pm25,
        "pm10": pm10,
        "tsp": pm10 * TSP_PER_PM10,
        "no2": (24.0 + 8.0 * s) * (0.8 + 0.2 * mixing) + 38.0 * rush,
        "co": (700.0 + 300.0 * s) * mixing + 900.0 * rush,
        "so2": 11.0 + 5.0 * s + 4.0 * _bump(h, 10.0, 3.0),
        "o3": 18.0 + (75.0 - 20.0 * s) * daylight,
        "temperature": temperature,
        # Relative humidity falls as the air warms during the day.
        "humidity": 80.0 - 2.0 * s - 2.5 * (temperature - (24.0 - 6.5 * s)),
        "pressure": 1012.0 + 8.0 * s + 1.2 * math.cos(2 * math.pi * (h - 10.0) / 12),
        "wind_speed": 1.6 + 1.2 * daylight,
        # North-east monsoon in winter, south-east in summer.
        "wind_direction": 90.0 - 45.0 * s,
        # Probability that it rains in an hour (the simulator draws the amount).
        "rain": 0.03 + 0.07 * (1 - s) / 2,
    }
