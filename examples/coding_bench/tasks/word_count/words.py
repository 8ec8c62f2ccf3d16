"""Counting words."""


def word_counts(text):
    """Map each word (lower case, without surrounding punctuation) to its count."""
    counts = {}
    for word in text.split():
        counts[word] = counts.get(word, 0) + 1
    return counts
