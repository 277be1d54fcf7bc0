"""Text a spreadsheet would run: CSV cells made safe to open (OWASP, "CSV Injection").

A CSV cell that starts like a formula is run as one by the spreadsheet that opens the
file. Names that organisations choose (units, integrations) reach CSV files readers
download, so such a cell gets an apostrophe in front, which spreadsheets show as text.
"""

from __future__ import annotations

from typing import Any

# What a spreadsheet reads as the start of a formula, the full-width forms too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d",
                  "\uff20")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell as a spreadsheet should show it: text that it would run as a formula
    gets an apostrophe in front; anything else is as it is."""
    if isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + value
    return value
