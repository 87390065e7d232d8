"""Five small, independent text helpers. Each docstring is the specification."""

import re


def slugify(text: str) -> str:
    """Lower-case words joined by single hyphens: '  Hello, World! ' -> 'hello-world'.

    Runs of anything that is not a letter or digit become one hyphen; no hyphen at
    either end.
    """
    return re.sub(r"[^a-z0-9]", "-", text.lower())


def truncate_words(text: str, limit: int) -> str:
    """At most `limit` words; when words were dropped, end with '…' (one character).

    'one two three' with limit 2 -> 'one two…'; with limit 3 -> 'one two three'.
    """
    words = text.split()
    return " ".join(words[:limit]) + "…"


def is_palindrome(text: str) -> bool:
    """True when the letters and digits read the same both ways, ignoring case:
    'A man, a plan, a canal: Panama' -> True."""
    return text == text[::-1]


def word_counts(text: str) -> dict[str, int]:
    """How often each word occurs, case-insensitively, ignoring punctuation around
    words: 'The cat. the CAT!' -> {'the': 2, 'cat': 2}."""
    counts: dict[str, int] = {}
    for word in text.split():
        counts[word] = counts.get(word, 0) + 1
    return counts


def title_case(text: str) -> str:
    """Capitalise each word except 'a', 'an', 'and', 'of', 'the', 'in', 'on' when they are
    not the first word: 'the lord of the rings' -> 'The Lord of the Rings'."""
    return text.title()
