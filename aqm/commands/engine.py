"""The AQI engine's backend, checked before a command does any work.

``AQM_AQI_BACKEND`` is read by the engine itself (:mod:`aqi.kernels`); the commands that
compute AQI (``aqm aqi compute``, ``aqm aqi backfill``, ``aqm worker``) call
:func:`checked_aqi_backend` first, so a wrong value is a one-line error at once rather
than mid-run. The engine (and numpy) is imported only here, by those commands.
"""

from __future__ import annotations

from aqm.cli import CliError


def checked_aqi_backend() -> str:
    """The configured AQI backend in words; :class:`CliError` if it cannot be used."""
    from aqi.kernels import BackendError, describe_backend

    try:
        return describe_backend()
    except BackendError as exc:
        raise CliError(str(exc)) from exc
