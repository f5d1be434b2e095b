"""Bulk open data: hourly means and VN_AQI per year and station (and the whole province)
as CSV and Parquet, with a licence, a README and a manifest, in ``AQM_OPENDATA_DIR``.

``aqm web`` serves the folder at ``/data/``. :mod:`opendata.export` writes the files,
:mod:`opendata.pending` records which station-years changed, :mod:`opendata.regenerate`
rewrites them from ``aqm worker``. Documentation: docs/opendata.md.
"""
