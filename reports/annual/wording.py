"""How the report writes numbers and dates in Vietnamese (decimal comma, dd/mm/yyyy)."""

from __future__ import annotations

from datetime import date, datetime


def number(value: float, decimals: int = 1) -> str:
    """``1234.56`` → ``1.234,6``: Vietnamese groups thousands with dots, decimals with a comma."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def integer(value: int) -> str:
    return number(value, 0)


def percent(share: float, decimals: int = 1) -> str:
    """A share 0…1 as ``45,2 %``."""
    return f"{number(100.0 * share, decimals)} %"


def day(value: date) -> str:
    return f"{value:%d/%m/%Y}"


def hour(value: datetime) -> str:
    return f"{value:%d/%m/%Y %H:%M}"
