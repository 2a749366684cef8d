"""servicekit: the library auth and orders share. It holds no entry point of its own."""

__version__ = "0.1.0"
