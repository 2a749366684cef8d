"""Idempotency-Key records kept in PostgreSQL, in the transaction of the write they answer."""
