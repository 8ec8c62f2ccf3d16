"""Roman numerals."""

VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def roman_to_int(text):
    """Value of a Roman numeral such as 'XIV'."""
    total = 0
    for ch in text:
        total += VALUES[ch]
    return total
