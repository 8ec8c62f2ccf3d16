"""Reference fixes for examples/coding_bench, as SEARCH/REPLACE pairs: they prove every task is
solvable and its bug is caught, and they let a scripted model play a competent agent."""
from __future__ import annotations

FIXES: dict[str, tuple[str, str]] = {
    "median": ("    return ordered[mid]\n",
               "    if len(ordered) % 2 == 0:\n        return (ordered[mid - 1] + ordered[mid]) / 2\n    return ordered[mid]\n"),
    "binary_search": ("    while lo < hi:\n", "    while lo <= hi:\n"),
    "roman": ("    for ch in text:\n        total += VALUES[ch]\n",
              "    for i, ch in enumerate(text):\n        v = VALUES[ch]\n"
              "        if i + 1 < len(text) and VALUES[text[i + 1]] > v:\n            total -= v\n"
              "        else:\n            total += v\n"),
    "word_count": ("    for word in text.split():\n        counts[word] = counts.get(word, 0) + 1\n",
                   "    import string\n    for word in text.split():\n        word = word.strip(string.punctuation).lower()\n"
                   "        if word:\n            counts[word] = counts.get(word, 0) + 1\n"),
    "merge_intervals": ("    for start, end in intervals:\n        if merged and start < merged[-1][1]:\n",
                        "    for start, end in sorted(intervals):\n        if merged and start <= merged[-1][1]:\n"),
    "lru_cache": ("        return self.data.get(key, default)\n",
                  "        if key not in self.data:\n            return default\n"
                  "        self.data.move_to_end(key)\n        return self.data[key]\n"),
    "flatten": ("        if isinstance(item, Iterable):\n", "        if isinstance(item, (list, tuple)):\n"),
    "duration": ("    total = 0\n    for number, unit in re.findall(r\"(\\d)([hms])\", text):\n        total += int(number) * UNITS[unit]\n    return total\n",
                 "    m = re.fullmatch(r\"(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?\", text)\n"
                 "    if not text or m is None:\n        raise ValueError(text)\n"
                 "    h, mi, s = (int(g) if g else 0 for g in m.groups())\n    return h * 3600 + mi * 60 + s\n"),
    "brackets": ("    return all(text.count(o) == text.count(c) for o, c in (\"()\", \"[]\", \"{}\"))\n",
                 "    pairs = {\")\": \"(\", \"]\": \"[\", \"}\": \"{\"}\n    stack = []\n    for ch in text:\n"
                 "        if ch in \"([{\":\n            stack.append(ch)\n        elif ch in pairs:\n"
                 "            if not stack or stack.pop() != pairs[ch]:\n                return False\n    return not stack\n"),
    "rle": ("    return runs\n", "    if current is not None:\n        runs.append([current, count])\n    return runs\n"),
}


def fixed_code(code: str, task: str) -> str:
    search, replace = FIXES[task]
    assert search in code, f"fix for {task} does not apply"
    return code.replace(search, replace, 1)


def fix_edit(task: str, module: str) -> str:
    """The fix as an agent reply (FILE line + SEARCH/REPLACE block)."""
    search, replace = FIXES[task]
    return f"FILE: {module}\n<<<<<<< SEARCH\n{search.rstrip(chr(10))}\n=======\n{replace.rstrip(chr(10))}\n>>>>>>> REPLACE\nDONE\n"
