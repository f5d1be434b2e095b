"""The AQI engine's backend, set from the settings before a command does any work.

The commands that compute AQI (``aqm aqi compute``, ``aqm aqi backfill``, ``aqm worker``)
call :func:`checked_aqi_backend` first, so a wrong ``AQM_AQI_BACKEND`` is a one-line
error at once rather than mid-run. The engine (and numpy) is imported only here, by
those commands.
"""

from __future__ import annotations


def checked_aqi_backend() -> str:
    """The configured AQI backend in words; :class:`CliError` if it cannot be used."""
    from aqi.kernels import configure_backend, describe_backend
    from aqm_core.settings import load_settings
    from qaqc import kernels as qaqc_kernels

    chosen = load_settings().aqi_backend
    configure_backend(chosen, "AQM_AQI_BACKEND")
    qaqc_kernels.configure_backend(chosen)
    return describe_backend()
