"""PostgreSQL and Redis and what sits directly on them: the engine and the request
session, the Redis pool and read-through cache, tenant-scoped repositories and
specifications, migrations, and the embedded servers `make run` and the tests start.
Above core, below web: nothing here imports `servicekit.web`."""
