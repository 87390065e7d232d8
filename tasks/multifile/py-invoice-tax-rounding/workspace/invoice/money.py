"""Money is kept in integer cents so that sums never drift."""


def parse_cents(text: str) -> int:
    """'12.34' -> 1234; '7' -> 700. Rejects more than two decimals."""
    whole, _, frac = text.strip().partition(".")
    if len(frac) > 2:
        raise ValueError(f"too many decimals in {text!r}")
    return int(whole or "0") * 100 + int((frac + "00")[:2])


def format_cents(cents: int) -> str:
    """1234 -> '12.34'; -5 -> '-0.05'."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"
