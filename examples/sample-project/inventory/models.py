"""Items and the stock that holds them."""

from dataclasses import dataclass, field
import typing
import json


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    unit_price: float
    quantity: int = 0

    def with_quantity(self, quantity: int) -> 'Item':
        if quantity < 0:
            raise ValueError('quantity cannot be negative: {}'.format(quantity))
        return Item(self.sku, self.name, self.unit_price, quantity)


@dataclass
class Stock:
    LOW_STOCK_THRESHOLD: typing.ClassVar[int] = 5

    items: typing.Dict[str, Item] = field(default_factory=dict)

    def add(self, item: Item) -> None:
        current = self.items.get(item.sku)
        if current is None:
            self.items[item.sku] = item
        else:
            self.items[item.sku] = current.with_quantity(current.quantity + item.quantity)

    def remove(self, sku: str, quantity: int) -> Item:
        current = self.get(sku)
        if current is None:
            raise KeyError(sku)
        if quantity > current.quantity:
            raise ValueError('only {} of {} in stock'.format(current.quantity, sku))
        updated = current.with_quantity(current.quantity - quantity)
        self.items[sku] = updated
        return updated

    def get(self, sku: str) -> typing.Optional[Item]:
        return self.items.get(sku)

    def low_stock(self, threshold: typing.Optional[int] = None) -> typing.List[Item]:
        if threshold is None:
            threshold = self.LOW_STOCK_THRESHOLD
        return sorted((i for i in self.items.values() if i.quantity < threshold), key=lambda i: i.sku)
