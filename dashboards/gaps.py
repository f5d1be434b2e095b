"""Dashboard "Mẫu thiếu": samples a station should have sent but are not stored.

The same rule as ``aqm gaps`` (worker/gaps.py; docs/gaps.md), in SQL: samples are
expected on the multiples of ``stations.report_interval_s`` since the epoch, from
``installed_on`` to ``retired_on`` (local midnights), for every parameter the station
lists; a reading counts for the slot nearest its time (within half an interval, ties to
the earlier slot: ``ceil((t − interval/2) / interval)``), whatever its status. Samples
of the last :data:`NOT_YET_DUE` are not yet counted as missing. The stored slots of the
hours that have ended are read from ``reading_slots`` (migration 0023, recounted from the
readings by the AQI worker); only the hour still running is read from ``readings``,
through their primary key, one station and parameter at a time.

The table lists each parameter's gap periods and joins parameters whose periods
coincide (a whole-station outage is one row); ``aqm gaps`` splits periods where the set
of missing parameters changes, so partly overlapping gaps of two instruments read
differently there but count the same samples. The SQL judges the whole range at the
current ``report_interval_s``; ``aqm gaps`` follows the interval history
(``station_report_intervals``).
"""

from __future__ import annotations

from dashboards.panels import STACKED_BARS, Json, Panel, dashboard, override, sql_query, thresholds
from dashboards.sql_fragments import (
    LOCAL_TZ,
    TIME_FROM,
    TIME_TO,
    interval_sql,
    local_date,
    local_day_start,
)
from dashboards.variables import station_variable
from worker.gap_report import NOT_YET_DUE

UID = "aqm-mau-thieu"
_READ_MARGIN = "interval '1 hour'"  # half of the longest interval (3600 s) and then some

# Each selected station's expected slots as numbers k (sample time = k × interval since
# the epoch): k0 … k1 inside the range and the station's operating days.
_BOUNDS = f"""
st AS (
  SELECT s.station_id, s.name, s.report_interval_s AS iv, s.parameters,
         greatest({TIME_FROM}, {local_day_start("s.installed_on")}) AS t0,
         least({TIME_TO}, now() - {interval_sql(NOT_YET_DUE)},
               {local_day_start("s.retired_on")}) AS t1
  FROM stations s
  WHERE s.station_id IN ($station) AND cardinality(s.parameters) > 0
    AND (s.status = 'active' OR s.retired_on IS NOT NULL)
),
bounds AS (
  SELECT st.*, ceil(extract(epoch FROM st.t0) / st.iv)::bigint AS k0,
         ceil(extract(epoch FROM st.t1) / st.iv)::bigint - 1 AS k1
  FROM st
  WHERE st.t0 < st.t1
)"""

# The slot of a reading, in double precision: epoch seconds with microseconds stay exact
# to well under a microsecond there, far inside the half-interval a reading may be off.
_SLOT = "ceil((date_part('epoch', r.ts) - p.iv / 2.0::float8) / p.iv)::bigint"
_READINGS_IN_RANGE = f"r.ts >= {TIME_FROM} - {_READ_MARGIN} AND r.ts < {TIME_TO} + {_READ_MARGIN}"


def _readings_of_slots(first: str, last: str) -> str:
    """The readings of station ``p.station_id`` and parameter ``p.parameter`` whose slot is
    between ``first`` and ``last``: slot k takes the times in ((k − ½)·iv, (k + ½)·iv].

    The row comparisons bound the read in a way only the primary key (station_id,
    parameter, ts) serves; with plain bounds on ``ts`` the planner may walk the ``ts``
    index of a short range and filter out every other station's readings.
    """
    lo = f"to_timestamp(({first} - 0.5) * p.iv)"
    hi = f"to_timestamp(({last} + 0.5) * p.iv)"
    return f"""readings r
    WHERE r.station_id = p.station_id AND r.parameter = p.parameter AND {_READINGS_IN_RANGE}
      AND (r.station_id, r.parameter, r.ts) > (p.station_id, p.parameter, {lo})
      AND (r.station_id, r.parameter, r.ts) <= (p.station_id, p.parameter, {hi})"""


_PAIRS = """
pairs AS (
  SELECT b.station_id, b.iv, b.k0, b.k1, unnest(b.parameters) AS parameter FROM bounds b
)"""

CURRENT_HOUR = "time_bucket(interval '1 hour', now())"
"""The UTC hour still running: its slots are read from raw readings, older ones from
``reading_slots`` (the worker has recounted them)."""


# The hours of reading_slots a pair ``p`` needs: those that have ended, in the range.
_ENDED_HOURS = f"""rs.station_id = p.station_id AND rs.parameter = p.parameter
        AND rs.hour >= time_bucket(interval '1 hour', to_timestamp(p.k0 * p.iv::float8))
        AND rs.hour <= to_timestamp(p.k1 * p.iv::float8)
        AND rs.hour < {CURRENT_HOUR}
        AND rs.report_interval_s = p.iv"""

# The stored slots of the hour still running, per selected station and parameter, from
# its readings (read through their primary key) as a bit string: bit j is slot kf + j.
_CURRENT_BITS = f"""
current_bits AS (
  SELECT p.station_id, p.parameter, p.iv, p.k0, p.k1, h.kf, c.bits
  FROM pairs p
  CROSS JOIN LATERAL (
    SELECT ceil(date_part('epoch', {CURRENT_HOUR}) / p.iv)::bigint AS kf,
           ceil((date_part('epoch', {CURRENT_HOUR}) + 3600) / p.iv)::bigint - 1 AS kl
  ) h
  CROSS JOIN LATERAL (
    SELECT bit_or(set_bit(lpad('', (h.kl - h.kf + 1)::integer, '0')::bit varying,
                          (x.slot - h.kf)::integer, 1)) AS bits
    FROM (
      SELECT {_SLOT} AS slot
      FROM {_readings_of_slots("greatest(p.k0, h.kf)", "p.k1")}
        AND r.ts >= {CURRENT_HOUR} - {_READ_MARGIN}
    ) x
    WHERE x.slot BETWEEN h.kf AND h.kl
  ) c
  WHERE p.k1 >= h.kf AND c.bits IS NOT NULL
)"""


# Each selected station-parameter's stored slots as bit strings: bit j of ``bits`` is
# slot kf + j; the hours that have ended from reading_slots, then the hour still running.
_SLOT_BITS = f"""{_CURRENT_BITS},
slot_bits AS (
  SELECT p.station_id, p.parameter, p.iv, p.k0, p.k1,
         ceil(date_part('epoch', rs.hour) / p.iv)::bigint AS kf, rs.slots AS bits
  FROM pairs p
  JOIN reading_slots rs ON {_ENDED_HOURS}
  UNION ALL
  SELECT * FROM current_bits
)"""


def _stored_between(first: str, last: str) -> str:
    """Stored slots of a ``slot_bits`` row ``x`` between slots ``first`` and ``last``
    (NULL when none overlap); an hour wholly inside is counted without cutting it."""
    lo = f"greatest({first}, x.kf)"
    hi = f"least({last}, x.kf + length(x.bits) - 1)"
    last_slot = "x.kf + length(x.bits) - 1"
    return (
        f"CASE WHEN x.kf >= {first} AND {last_slot} <= {last} THEN bit_count(x.bits)"
        f" WHEN {hi} >= {lo} THEN bit_count(substring(x.bits FROM ({lo} - x.kf + 1)::integer"
        f" FOR ({hi} - {lo} + 1)::integer)) END"
    )


_DAY_START = local_day_start("d.day::date")
_NEXT_DAY_START = local_day_start("d.day::date + 1")

# Each station-day and each station counts the stored slots of each parameter (the part
# of each hour's bits inside the day or range).
MISSING_PER_DAY_SQL = f"""
WITH {_BOUNDS},{_PAIRS},{_SLOT_BITS},
days AS (
  SELECT b.station_id, d.day::date AS day, cardinality(b.parameters) AS n_params,
         greatest(b.k0, ceil(extract(epoch FROM {_DAY_START}) / b.iv)::bigint) AS d0,
         least(b.k1, ceil(extract(epoch FROM {_NEXT_DAY_START}) / b.iv)::bigint - 1) AS d1
  FROM bounds b,
       generate_series({local_date("b.t0")}, {local_date("b.t1 - interval '1 microsecond'")},
                       interval '1 day') AS d(day)
),
present AS (
  SELECT d.station_id, d.day, sum({_stored_between("d.d0", "d.d1")}) AS n
  FROM slot_bits x
  JOIN days d
    ON d.station_id = x.station_id AND d.d0 <= x.kf + length(x.bits) - 1 AND d.d1 >= x.kf
  GROUP BY 1, 2
)
SELECT {local_day_start("d.day")} AS time, b.name AS metric,
       d.n_params * (d.d1 - d.d0 + 1) - coalesce(p.n, 0) AS value
FROM days d
JOIN bounds b ON b.station_id = d.station_id
LEFT JOIN present p ON p.station_id = d.station_id AND p.day = d.day
WHERE d.d1 >= d.d0
ORDER BY 1, 2
"""

MISSING_PER_STATION_SQL = f"""
WITH {_BOUNDS},{_PAIRS},{_SLOT_BITS},
present AS (
  SELECT x.station_id, sum({_stored_between("x.k0", "x.k1")}) AS n
  FROM slot_bits x
  GROUP BY 1
)
SELECT b.station_id AS "Mã trạm", b.name AS "Trạm", b.iv AS "Chu kỳ (giây)",
       cardinality(b.parameters) * (b.k1 - b.k0 + 1) AS "Mẫu kỳ vọng",
       cardinality(b.parameters) * (b.k1 - b.k0 + 1) - coalesce(p.n, 0) AS "Mẫu thiếu",
       round(100.0 * (cardinality(b.parameters) * (b.k1 - b.k0 + 1) - coalesce(p.n, 0))
             / greatest(cardinality(b.parameters) * (b.k1 - b.k0 + 1), 1), 1) AS "Thiếu (%)"
FROM bounds b
LEFT JOIN present p ON p.station_id = b.station_id
ORDER BY 5 DESC, 1
"""

# Per station and parameter: runs of stored slots, with one mark before the first and one
# after the last expected slot; a run of missing slots lies between two consecutive
# marks. Consecutive fully stored hours are one run (found per station and parameter in
# the primary key's order, so nothing is sorted), the stored slots of a partly stored
# hour and of the hour still running are runs of one.
GAP_PERIODS_SQL = f"""
WITH {_BOUNDS},{_PAIRS},{_CURRENT_BITS},
stored AS (
  SELECT p.station_id, p.parameter, p.iv, p.k0, p.k1, i.first_hour, i.last_hour, i.bits
  FROM pairs p
  CROSS JOIN LATERAL (
    SELECT min(z.hour) AS first_hour, max(z.hour) AS last_hour,
           CASE WHEN bool_and(z.full) THEN NULL ELSE bit_or(z.slots) END AS bits
    FROM (
      SELECT rs.hour, rs.slots, bit_count(rs.slots) = length(rs.slots) AS full,
             rs.hour - interval '1 hour' * count(*) FILTER (
               WHERE bit_count(rs.slots) = length(rs.slots)) OVER (ORDER BY rs.hour) AS island
      FROM reading_slots rs
      WHERE {_ENDED_HOURS}
    ) z
    GROUP BY z.full, CASE WHEN z.full THEN z.island ELSE z.hour END
  ) i
),
marks AS (
  SELECT s.station_id, s.parameter,
         greatest(ceil(date_part('epoch', s.first_hour) / s.iv)::bigint, s.k0) AS lo,
         least(ceil((date_part('epoch', s.last_hour) + 3600) / s.iv)::bigint - 1, s.k1) AS hi
  FROM stored s
  WHERE s.bits IS NULL
  UNION ALL
  SELECT x.station_id, x.parameter, x.kf + j, x.kf + j
  FROM (
    SELECT s.station_id, s.parameter, s.k0, s.k1, s.bits,
           ceil(date_part('epoch', s.first_hour) / s.iv)::bigint AS kf
    FROM stored s
    WHERE s.bits IS NOT NULL
    UNION ALL
    SELECT c.station_id, c.parameter, c.k0, c.k1, c.bits, c.kf FROM current_bits c
  ) x, generate_series(0, length(x.bits) - 1) AS j
  WHERE get_bit(x.bits, j) = 1 AND x.kf + j BETWEEN x.k0 AND x.k1
  UNION ALL SELECT p.station_id, p.parameter, p.k0 - 1, p.k0 - 1 FROM pairs p
  UNION ALL SELECT p.station_id, p.parameter, p.k1 + 1, p.k1 + 1 FROM pairs p
),
runs AS (
  SELECT m.station_id, m.parameter, m.hi + 1 AS first_k, m.next_lo - 1 AS last_k
  FROM (
    SELECT marks.*, lead(lo) OVER (PARTITION BY station_id, parameter ORDER BY lo) AS next_lo
    FROM marks
  ) m
  WHERE m.next_lo - 1 >= m.hi + 1
)
SELECT b.station_id AS "Mã trạm", b.name AS "Trạm",
       to_timestamp(g.first_k * b.iv) AS "Từ", to_timestamp(g.last_k * b.iv) AS "Đến",
       g.last_k - g.first_k + 1 AS "Số mẫu thiếu",
       string_agg(coalesce(pa.name_vi, g.parameter), ', '
                  ORDER BY array_position(b.parameters, g.parameter)) AS "Thông số"
FROM runs g
JOIN bounds b ON b.station_id = g.station_id
LEFT JOIN parameters pa ON pa.parameter = g.parameter
GROUP BY b.station_id, b.name, b.iv, b.parameters, g.first_k, g.last_k
ORDER BY b.station_id, g.first_k, g.last_k
"""


def build() -> Json:
    table_options: Json = {"showHeader": True, "cellHeight": "sm"}
    time_unit = {"unit": "time:DD/MM/YYYY HH:mm"}
    panels = [
        Panel(
            "timeseries",
            "Số mẫu thiếu theo trạm và ngày",
            [sql_query(MISSING_PER_DAY_SQL, fmt="time_series")],
            width=24,
            height=9,
            description=(
                "Số mẫu (thời điểm đo × thông số) trạm phải gửi theo chu kỳ khai báo trong danh "
                "mục trạm nhưng chưa có trong cơ sở dữ liệu, theo ngày (giờ Việt Nam). Số đo lệch "
                "giờ không quá nửa chu kỳ vẫn được tính; mã trạng thái không ảnh hưởng. Các mẫu "
                f"của {int(NOT_YET_DUE.total_seconds() // 60)} phút gần nhất chưa được tính."
            ),
            colour_mode="palette-classic",
            custom=STACKED_BARS,
        ),
        Panel(
            "table",
            "Tổng số mẫu thiếu theo trạm",
            [sql_query(MISSING_PER_STATION_SQL)],
            width=24,
            height=7,
            new_row=True,
            options=table_options,
            overrides=[
                override(
                    "Thiếu (%)",
                    {
                        "unit": "percent",
                        "thresholds": thresholds("green", [(1, "orange"), (25, "red")]),
                        "color": {"mode": "thresholds"},
                        "custom.cellOptions": {"type": "color-background", "mode": "basic"},
                    },
                )
            ],
        ),
        Panel(
            "table",
            "Các khoảng thiếu số liệu (đề nghị nhà cung cấp gửi lại)",
            [sql_query(GAP_PERIODS_SQL)],
            width=24,
            height=12,
            new_row=True,
            description=(
                "Mỗi dòng: các mẫu liên tiếp bị thiếu của một hoặc nhiều thông số, từ thời điểm "
                "đầu đến thời điểm cuối (cả hai đều thiếu). Bộ ghi dữ liệu của trạm lưu khoảng 60 "
                "ngày: gửi danh sách cho nhà cung cấp sớm. Lệnh `aqm gaps … -o tệp.csv` xuất cùng "
                "danh sách thành tệp CSV; số liệu gửi lại chỉ được lưu một lần."
            ),
            options=table_options,
            overrides=[override("Từ", time_unit), override("Đến", time_unit)],
        ),
    ]
    return dashboard(
        uid=UID,
        title="Mẫu thiếu",
        description=(
            "Mẫu số liệu trạm chưa gửi hoặc bị mất (ví dụ khi máy chủ MQTT gặp sự cố), "
            "để đề nghị nhà cung cấp gửi lại."
        ),
        panels=panels,
        variables=[station_variable(multi=True)],
        time_from="now-7d",
        refresh="15m",
        tags=["chất lượng dữ liệu"],
        timezone=LOCAL_TZ,
    )
