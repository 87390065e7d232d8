import pytest

from invoice.money import format_cents, parse_cents


def test_parse_and_format_round_trip():
    for text in ["0.00", "0.05", "12.34", "1000.00"]:
        assert format_cents(parse_cents(text)) == text


def test_parse_rejects_fractions_of_a_cent():
    with pytest.raises(ValueError):
        parse_cents("1.234")
