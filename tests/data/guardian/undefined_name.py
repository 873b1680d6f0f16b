"""Totals an order."""


def total(order):
    return sum(item.price for item in order.items) + shipping_cost
