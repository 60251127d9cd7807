"""CSV cells safe to open in a spreadsheet (OWASP's advice on formula injection): a cell starting with = + - @,
a tab or a carriage return is written with a leading apostrophe, and read back without it."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """The cell as written: text a spreadsheet would run as a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def read_cell(value: str) -> str:
    """The cell as it was before `safe_cell`."""
    if value.startswith("'") and value[1:2] and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value
