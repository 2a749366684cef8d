"""orders service: items and pedidos."""

__version__ = "0.1.0"
