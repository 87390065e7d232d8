"""Sales tax on one line item."""


def tax_cents(amount_cents: int, rate_percent: str) -> int:
    """Tax owed on `amount_cents` at `rate_percent` (a decimal string like '7.5').

    The tax authority wants each line's tax rounded to the nearest cent, with exact
    halves rounded up (ROUND_HALF_UP): 1999 cents at 7.5% is 149.925 -> 150.
    """
    return int(amount_cents * float(rate_percent) / 100)
