"""Tiny invoicing: line items in integer cents, tax per line, a plain-text rendering."""

from invoice.lines import Invoice, LineItem
from invoice.render import render

__all__ = ["Invoice", "LineItem", "render"]
