from invoice import Invoice, LineItem, render
from invoice.tax import tax_cents


def test_half_cent_rounds_up():
    assert tax_cents(1999, "7.5") == 150  # 149.925


def test_below_half_rounds_down():
    assert tax_cents(1001, "7.5") == 75  # 75.075


def test_exact_half_rounds_up_not_to_even():
    # 100.5 cents: half up gives 101; round() would give 100 (it rounds halves to even)
    assert tax_cents(1005, "10") == 101


def test_zero_rate_and_whole_results():
    assert tax_cents(1234, "0") == 0
    assert tax_cents(2000, "20") == 400


def test_invoice_totals_and_rendering():
    inv = Invoice("INV-7").add(LineItem("widget", 1999, 1, "7.5")).add(LineItem("bolt", 5, 3))
    assert (inv.net_cents, inv.tax_cents, inv.total_cents) == (2014, 150, 2164)
    text = render(inv)
    assert "1 x widget: 19.99 (tax 1.50)" in text
    assert text.endswith("Total: 21.64")
