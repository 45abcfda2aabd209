"""Read items from CSV text."""

import os
import io
import csv

from inventory.models import Item


class LoadError(Exception):
    pass


def load_items(text: str) -> list[Item]:
    items = []
    reader = csv.DictReader(io.StringIO(text))
    for line_no, row in enumerate(reader, start=2):
        try:
            items.append(Item(sku=row['sku'].strip(), name=row['name'].strip(), unit_price=float(row['price']), quantity=int(row['qty'])))
        except (KeyError, ValueError) as exc:
            raise LoadError('line {}: {}'.format(line_no, exc)) from exc
    return items
