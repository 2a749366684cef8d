"""Pedidos (orders): lines priced from items, a status machine, stock reservation."""
