"""Sales tax on one line item."""

from decimal import ROUND_HALF_UP, Decimal


def tax_cents(amount_cents: int, rate_percent: str) -> int:
    """Tax owed on `amount_cents` at `rate_percent` (a decimal string like '7.5').

    The tax authority wants each line's tax rounded to the nearest cent, with exact
    halves rounded up (ROUND_HALF_UP): 1999 cents at 7.5% is 149.925 -> 150.
    Decimal keeps the rate exact; a float would turn 100.5 into 100.4999...
    """
    exact = Decimal(amount_cents) * Decimal(rate_percent) / Decimal(100)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
