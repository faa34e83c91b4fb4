"""`hireserve`: one entry point with subcommands. `serve` starts a server (needs the `server`
extra); the other commands call a running server and need only grpcio."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hireserve",
        description="Screen resumes against job descriptions with a self-hosted LLM over gRPC.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gRPC server",
                           description="Run the hireserve gRPC server until SIGTERM.")
    from server.cli import add_serve_arguments  # no torch import: flags only

    add_serve_arguments(serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    if ns.command == "serve":
        from server.cli import run_serve

        return run_serve(ns)
    raise AssertionError(ns.command)


if __name__ == "__main__":
    sys.exit(main())
