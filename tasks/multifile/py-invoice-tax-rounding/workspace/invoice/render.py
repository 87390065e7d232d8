"""Plain-text rendering of an invoice, one line per item and a totals block."""

from invoice.lines import Invoice
from invoice.money import format_cents


def render(inv: Invoice) -> str:
    out = [f"Invoice {inv.number}"]
    for line in inv.lines:
        out.append(
            f"{line.quantity} x {line.description}: {format_cents(line.net_cents)}"
            f" (tax {format_cents(line.tax_cents)})"
        )
    out.append(f"Net: {format_cents(inv.net_cents)}")
    out.append(f"Tax: {format_cents(inv.tax_cents)}")
    out.append(f"Total: {format_cents(inv.total_cents)}")
    return "\n".join(out)
