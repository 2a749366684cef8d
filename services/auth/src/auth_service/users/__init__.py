"""Human users: argon2id passwords, roles, tenants, login throttling."""
