"""A tiny stock-keeping package (the UET demo sample)."""

from inventory.models import Item, Stock

__all__ = ["Item", "Stock"]
__version__ = '0.1.0'
