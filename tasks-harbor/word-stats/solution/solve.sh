#!/bin/bash
# Oracle: write the working script.
cat > /app/wordstats.py <<'PY'
"""Print statistics about a text file: lines, words, longest word, most frequent word."""

import sys
from collections import Counter

PUNCT = ".,;:!?\"'()"


def main(path: str) -> None:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    words = [w.strip(PUNCT) for w in text.split()]
    words = [w for w in words if w]
    counts = Counter(w.lower() for w in words)
    top = min(counts, key=lambda w: (-counts[w], w)) if counts else ""
    longest = max(words, key=len) if words else ""
    print(f"lines: {len(text.splitlines())}")
    print(f"words: {len(words)}")
    print(f"longest: {longest}")
    print(f"top: {top}")


if __name__ == "__main__":
    main(sys.argv[1])
PY
