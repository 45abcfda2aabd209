from decimal import Decimal

import pytest

from inventory import Item, pricing

ITEMS = [Item('A-1', 'bolt', 0.25, 100), Item('B-2', 'nut', 0.10, 3)]


def test_total_price():
    assert pricing.total_price(ITEMS) == Decimal('25.30')


def test_total_price_with_discount():
    assert pricing.total_price(ITEMS, discount=10) == Decimal('22.77')


def test_discount_out_of_range():
    with pytest.raises(ValueError):
        pricing.apply_discount(Decimal('10'), 150)


def test_with_tax():
    assert pricing.with_tax(Decimal('10.00')) == Decimal('12.00')


def test_price_list():
    assert pricing.price_list(ITEMS) == ['A-1: 0.25', 'B-2: 0.10']
