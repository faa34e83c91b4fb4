"""`hireserve`: one entry point with subcommands. `serve` starts a server (needs the `server`
extra); the other commands call a running server and need only grpcio."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hireserve",
        description="Screen resumes against job descriptions with a self-hosted LLM over gRPC.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gRPC server",
                           description="Run the hireserve gRPC server until SIGTERM.")
    from hireserve.server.cli import add_serve_arguments  # no torch import: flags only

    add_serve_arguments(serve)
    add_client_commands(sub)
    return parser


def add_client_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Commands that call a running server: grpcio and rich only, never torch."""
    from hireserve.clients.commands import (
        add_connection_arguments,
        add_explain_option,
        add_screen_options,
    )

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        add_connection_arguments(p)
        return p

    p = command("screen", "score resumes against a job description")
    p.add_argument("--jd", required=True, type=Path, help="job description (text file)")
    p.add_argument("resumes", nargs="+", type=Path, metavar="RESUME_FILE",
                   help="PDF, DOCX, text or Markdown resume")
    p.add_argument("--json", action="store_true", help="print JSON instead of panels")
    add_screen_options(p)
    add_explain_option(p)

    p = command("rank", "screen every resume in a folder and rank them (ScreenBatch)")
    p.add_argument("--jd", required=True, type=Path, help="job description (text file)")
    p.add_argument("folder", type=Path, metavar="DIR",
                   help="folder of .pdf/.docx/.txt/.md resumes (not recursive)")
    p.add_argument("--csv", type=Path, metavar="FILE", help="write the ranking as CSV")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the ranking as JSON")
    p.add_argument("--batch-size", type=int, default=32,
                   help="resumes per ScreenBatch call (default %(default)s)")
    p.add_argument("--max-file-mib", type=float, default=20.0,
                   help="larger files become error rows without being sent "
                        "(default %(default)s, the server's default limit)")
    add_screen_options(p)
    add_explain_option(p)

    p = command("questions", "write interview questions for a resume")
    p.add_argument("resume", type=Path, metavar="RESUME_FILE")
    p.add_argument("--jd", type=Path, help="job description the questions should target")
    p.add_argument("-n", "--num-questions", type=int, default=5, help="default %(default)s")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_screen_options(p)

    p = command("health", "check the server's health (exit 0 when SERVING)")
    p.add_argument("--service", default="", help="service name (default: the whole server)")

    p = command("info", "describe the served model")
    p.add_argument("--json", action="store_true")

    p = command("generate", "stream a raw completion of a prompt (debugging)")
    p.add_argument("prompt")
    p.add_argument("--max-tokens", type=int, default=0, help="0: the server default")


def _run_client_command(ns: argparse.Namespace) -> int:
    from hireserve.clients import commands
    from hireserve.clients.errors import HireError
    from hireserve.clients.rank import run_rank

    runners = {"screen": commands.run_screen, "rank": run_rank,
               "questions": commands.run_questions, "health": commands.run_health,
               "info": commands.run_info, "generate": commands.run_generate}
    try:
        return runners[ns.command](ns)
    except HireError as exc:  # the server said no: one line with the code and field
        print(f"hireserve: {exc.one_line()}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:  # a local file we could not read
        print(f"hireserve: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `hireserve ... | head`: the reader left, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    if ns.command == "serve":
        from hireserve.server.cli import run_serve

        return run_serve(ns)
    return _run_client_command(ns)


if __name__ == "__main__":
    sys.exit(main())
