"""Prices, discounts and tax."""

import typing
from decimal import Decimal, ROUND_HALF_UP
import math
from collections.abc import Iterable

from inventory.models import Item

TAX_RATE: typing.Final = Decimal( '0.20' )


def to_money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)


def apply_discount(price: Decimal, percent: typing.Optional[float] = None) -> Decimal:
    if percent is None:
        return to_money(price)
    if not 0 <= percent <= 100:
        raise ValueError("discount must be between 0 and 100, got {}".format(percent))
    return to_money(price * (Decimal(100) - Decimal(str(percent))) / Decimal(100))


def total_price(items: Iterable[Item], discount: typing.Optional[float] = None) -> Decimal:
    subtotal = sum((to_money(i.unit_price) * i.quantity for i in items), Decimal(0))
    return apply_discount(subtotal, discount)


def with_tax(amount: Decimal, rate: Decimal = TAX_RATE) -> Decimal:
    return to_money(amount * (1 + rate))


def price_list(items: typing.List[Item]) -> typing.List[str]:
    return ['{}: {}'.format(i.sku, to_money(i.unit_price)) for i in items]
