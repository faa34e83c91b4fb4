"""Client subcommands of `hireserve`: screen, questions, health, info, generate (rank lives in
`clients.rank`). Each `run_*` returns the exit code; errors are raised and `clients.cli` turns
them into one line on stderr."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from hireserve.clients.base import DEFAULT_TARGET
from hireserve.clients.client import HireClient
from hireserve.clients.documents import document_from_file, read_job_description
from hireserve.clients.errors import HireError
from hireserve.clients.retry import Deadlines, RetryPolicy


def add_connection_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connection")
    g.add_argument("--target", default=os.environ.get("HIRESERVE_TARGET", DEFAULT_TARGET),
                   help="server host:port (default $HIRESERVE_TARGET or %(default)s)")
    g.add_argument("--token-file", type=Path,
                   help="file holding the bearer token (default: $HIRESERVE_TOKEN if set)")
    g.add_argument("--token", help="bearer token (visible in `ps`: prefer --token-file)")
    g.add_argument("--tls", action="store_true", help="use TLS with the system root CAs")
    g.add_argument("--tls-ca", type=Path, help="PEM root CA of the server (implies --tls)")
    g.add_argument("--tls-cert", type=Path, help="PEM client certificate for mTLS")
    g.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    g.add_argument("--tls-server-name", help="name to expect in the server's certificate")
    g.add_argument("--timeout", type=float, help="deadline of each attempt in seconds")
    g.add_argument("--max-attempts", type=int, default=RetryPolicy().max_attempts,
                   help="attempts on UNAVAILABLE / RESOURCE_EXHAUSTED (default %(default)s)")


def add_screen_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--language", default="",
                   help="language of the answer, e.g. en, zh-CN (default: the resume's)")
    p.add_argument("--blind", action="store_true",
                   help="redact names, contacts, age, gender before the model reads the resume "
                        "(screen and rank always do)")


def add_explain_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--explain", action="store_true",
                   help="have the model write the summary and experience evaluation "
                        "(slower; by default the server writes them from the verdicts)")


def make_client(ns: argparse.Namespace) -> HireClient:
    from hireserve.clients.channel import TlsConfig

    token = ns.token
    if ns.token_file is not None:
        token = ns.token_file.read_text().strip()
    token = token or os.environ.get("HIRESERVE_TOKEN") or None
    tls: TlsConfig | None = None
    if ns.tls or ns.tls_ca or ns.tls_cert or ns.tls_server_name:
        tls = TlsConfig(root_cert=ns.tls_ca, client_cert=ns.tls_cert, client_key=ns.tls_key,
                        server_name=ns.tls_server_name)
    deadlines = None
    if ns.timeout:
        t = ns.timeout
        deadlines = Deadlines(t, t, t, t, t, t)
    return HireClient(ns.target, token=token, tls=tls, deadlines=deadlines,
                      retry=RetryPolicy(max_attempts=max(1, ns.max_attempts)))


def print_json(value: object) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def fail_line(prefix: str, error: HireError) -> None:
    print(f"hireserve: {prefix}{error.one_line()}", file=sys.stderr)


def run_screen(ns: argparse.Namespace) -> int:
    from hireserve.clients import render

    jd = read_job_description(ns.jd)
    documents = [(Path(f), document_from_file(f)) for f in ns.resumes]  # read all first
    out, failed = [], 0
    console = render.stdout_console()
    with make_client(ns) as client:
        for path, doc in documents:
            try:
                r = client.screen(jd, doc, output_language=ns.language, blind=ns.blind,
                                  explain=ns.explain)
            except HireError as exc:
                if len(documents) == 1:
                    raise
                failed += 1
                fail_line(f"{path}: ", exc)
                out.append({"file": str(path), "error": render.error_dict(exc)})
                continue
            if ns.json:
                out.append({"file": str(path), "result": render.to_dict(r)})
            else:
                console.print(render.screen_panel(path.name, r))
    if ns.json:
        print_json(out)
    return 1 if failed else 0


def run_questions(ns: argparse.Namespace) -> int:
    from hireserve.clients import render

    path = Path(ns.resume)
    doc = document_from_file(path)
    jd = read_job_description(ns.jd) if ns.jd else None
    with make_client(ns) as client:
        r = client.generate_questions(doc, job_description=jd, num_questions=ns.num_questions,
                                      mix=question_mix(ns.num_questions),
                                      output_language=ns.language, blind=ns.blind)
    if ns.json:
        print_json(render.to_dict(r))
    else:
        render.stdout_console().print(render.questions_panel(path.name, r))
    return 0


def question_mix(n: int) -> dict[str, int] | None:
    """The server's default mix (3 technical, 1 behavioural, 1 open-ended) needs 5 questions;
    for fewer, ask for a mix that fits instead of an error."""
    if n <= 0 or n >= 5:
        return None
    behavioural, open_ended = int(n >= 2), int(n >= 3)
    return {"technical": n - behavioural - open_ended, "behavioural": behavioural,
            "open_ended": open_ended}


def run_health(ns: argparse.Namespace) -> int:
    from hireserve.clients import render

    with make_client(ns) as client:
        status = render.health_name(client.health(ns.service))
    print(status)
    return 0 if status == "SERVING" else 1


def run_info(ns: argparse.Namespace) -> int:
    from hireserve.clients import render

    with make_client(ns) as client:
        info = client.model_info()
    if ns.json:
        print_json(render.to_dict(info))
    else:
        render.stdout_console().print(render.model_info_table(info))
    return 0


def run_generate(ns: argparse.Namespace) -> int:
    last = None
    with make_client(ns) as client:
        for chunk in client.generate(ns.prompt, max_tokens=ns.max_tokens):
            sys.stdout.write(chunk.text)
            sys.stdout.flush()
            last = chunk
    sys.stdout.write("\n")
    if last is not None and last.HasField("usage"):
        u = last.usage
        print(f"[{u.prompt_tokens} prompt, {u.generated_tokens} generated tokens]",
              file=sys.stderr)
    return 0
