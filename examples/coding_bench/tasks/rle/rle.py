"""Run-length encoding."""


def encode(text):
    """'aaabcc' -> [['a', 3], ['b', 1], ['c', 2]]"""
    runs = []
    current, count = None, 0
    for ch in text:
        if ch == current:
            count += 1
        else:
            if current is not None:
                runs.append([current, count])
            current, count = ch, 1
    return runs
