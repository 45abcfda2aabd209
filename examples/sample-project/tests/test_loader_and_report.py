import pytest

from inventory import Stock
from inventory.loader import LoadError, load_items
from inventory.report import stock_report

CSV = 'sku,name,price,qty\nA-1,bolt,0.25,100\nB-2, nut ,0.10,3\n'


def test_load_items():
    items = load_items(CSV)
    assert [(i.sku, i.name, i.quantity) for i in items] == [('A-1', 'bolt', 100), ('B-2', 'nut', 3)]


def test_load_items_reports_bad_line():
    with pytest.raises(LoadError, match='line 3'):
        load_items('sku,name,price,qty\nA-1,bolt,0.25,100\nB-2,nut,cheap,3\n')


def test_stock_report():
    stock = Stock()
    for item in load_items(CSV):
        stock.add(item)
    report = stock_report(stock)
    assert report.splitlines()[0].split() == ['A-1', 'bolt', '100']
    assert 'total value: 25.30' in report
    assert report.endswith('low stock: B-2')
