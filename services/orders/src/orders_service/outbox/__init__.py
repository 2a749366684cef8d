"""The transactional outbox: domain events written with the change that caused them."""
