"""One test per helper, plus one that already passes: partial credit is per function."""

from textutils import is_palindrome, slugify, title_case, truncate_words, word_counts


def test_slugify_collapses_and_trims():
    assert slugify("  Hello, World! ") == "hello-world"
    assert slugify("Rock & Roll -- 2024") == "rock-roll-2024"


def test_truncate_words_only_marks_real_truncation():
    assert truncate_words("one two three", 2) == "one two…"
    assert truncate_words("one two three", 3) == "one two three"
    assert truncate_words("one", 5) == "one"


def test_is_palindrome_ignores_case_and_punctuation():
    assert is_palindrome("A man, a plan, a canal: Panama")
    assert is_palindrome("No 'x' in Nixon")
    assert not is_palindrome("palindrome")


def test_is_palindrome_plain_words():
    assert is_palindrome("level")
    assert not is_palindrome("levels")


def test_word_counts_normalises_words():
    assert word_counts("The cat. the CAT!") == {"the": 2, "cat": 2}
    assert word_counts("") == {}


def test_title_case_keeps_small_words_lower():
    assert title_case("the lord of the rings") == "The Lord of the Rings"
    assert title_case("war and peace") == "War and Peace"
    assert title_case("a tale in two cities") == "A Tale in Two Cities"
