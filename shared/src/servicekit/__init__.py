"""servicekit: the library auth and orders share. It holds no entry point of its own.

Packages by layer, top first: `web` > `data` > `core` > `verify` (import-linter contracts in
the root pyproject.toml)."""

__version__ = "0.1.0"
