"""Parsing durations."""
import re

UNITS = {"h": 3600, "m": 60}


def parse_duration(text):
    """Seconds in a duration like '1h30m', '45s' or '2h'. Raises ValueError on bad input."""
    total = 0
    for number, unit in re.findall(r"(\d)([hms])", text):
        total += int(number) * UNITS[unit]
    return total
