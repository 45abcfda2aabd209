import pytest

from inventory import Item, Stock


def make_stock():
    stock = Stock()
    stock.add(Item('A-1', 'bolt', 0.25, 100))
    stock.add(Item('B-2', 'nut', 0.10, 3))
    return stock


def test_add_merges_quantities():
    stock = make_stock()
    stock.add(Item('A-1', 'bolt', 0.25, 20))
    assert stock.get('A-1').quantity == 120


def test_remove_reduces_quantity():
    stock = make_stock()
    assert stock.remove('A-1', 40).quantity == 60
    assert stock.get('A-1').quantity == 60


def test_remove_more_than_available_fails():
    with pytest.raises(ValueError, match='only 3 of B-2'):
        make_stock().remove('B-2', 4)


def test_get_unknown_sku_returns_none():
    assert make_stock().get('Z-9') is None


def test_low_stock_lists_items_under_threshold():
    stock = make_stock()
    assert [i.sku for i in stock.low_stock()] == ['B-2']
    assert [i.sku for i in stock.low_stock(threshold=1000)] == ['A-1', 'B-2']
