"""`python -m servicekit.web.serve <module:factory> [--host H] [--port P]`: run one service.

The same runner as each service's `<service> serve` command (see servicekit.web.shutdown); this
form takes the app by import path, for the e2e tests and dev scripts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from servicekit.web.shutdown import run_service


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m servicekit.web.serve",
        description="serve a servicekit app with graceful SIGTERM handling",
    )
    parser.add_argument("app", help="module:attribute of the app or its factory")
    parser.add_argument("--host", help="bind address (default: the service's HOST setting)")
    parser.add_argument("--port", type=int, help="port (default: the service's PORT setting)")
    parser.add_argument(
        "--http", choices=["httptools", "h11"], default="httptools", help="HTTP parser"
    )
    args = parser.parse_args(argv)
    return run_service(args.app, host=args.host, port=args.port, http=args.http)


if __name__ == "__main__":
    sys.exit(main())
