"""Plain-text stock reports."""

from inventory.models import Stock
from inventory import pricing
import sys


def format_line(sku: str, name: str, quantity: int, width: int = 20) -> str:
    return "{:<8} {:<{w}} {:>5}".format(sku, name, quantity, w=width)


def stock_report(stock: Stock, low_threshold: int = 5) -> str:
    lines = [ format_line(i.sku, i.name, i.quantity) for i in sorted(stock.items.values(), key=lambda i: i.sku) ]
    total = pricing.total_price(stock.items.values())
    lines.append('total value: {}'.format(total))
    low = stock.low_stock(low_threshold)
    if low:
        lines.append('low stock: ' + ', '.join(i.sku for i in low))
    return '\n'.join(lines)
