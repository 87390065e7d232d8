"""Line items and the invoice that sums them."""

from __future__ import annotations

from dataclasses import dataclass, field

from invoice.tax import tax_cents


@dataclass(frozen=True)
class LineItem:
    description: str
    unit_cents: int
    quantity: int = 1
    tax_rate: str = "0"

    @property
    def net_cents(self) -> int:
        return self.unit_cents * self.quantity

    @property
    def tax_cents(self) -> int:
        return tax_cents(self.net_cents, self.tax_rate)


@dataclass
class Invoice:
    number: str
    lines: list[LineItem] = field(default_factory=list)

    def add(self, line: LineItem) -> Invoice:
        self.lines.append(line)
        return self

    @property
    def net_cents(self) -> int:
        return sum(line.net_cents for line in self.lines)

    @property
    def tax_cents(self) -> int:
        return sum(line.tax_cents for line in self.lines)

    @property
    def total_cents(self) -> int:
        return self.net_cents + self.tax_cents
