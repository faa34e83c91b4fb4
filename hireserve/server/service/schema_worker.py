"""The child process that test-compiles JSON schemas for service/schema_compiler.py.

Run as `python -m hireserve.server.service.schema_worker TOKENIZER_INFO.json` (the engine's
serialized xgrammar TokenizerInfo). Protocol, one JSON value per line: stdout says "ready" once,
then stdin gets schemas (JSON strings) and stdout answers each with null (it compiled) or the
error message. A plain
subprocess, not multiprocessing: nothing here depends on how the server's __main__ was started.
"""

from __future__ import annotations

import json
import re
import sys


def main() -> None:
    import xgrammar as xgr

    with open(sys.argv[1]) as f:
        info = xgr.TokenizerInfo.deserialize_json(f.read())
    compiler = xgr.GrammarCompiler(info, max_threads=1, cache_enabled=False)
    _reply("ready")
    for line in sys.stdin:
        try:
            # The options the engine compiles with (engine/structured.py).
            compiler.compile_json_schema(json.loads(line), any_whitespace=False,
                                         strict_mode=True)
            _reply(None)
        except Exception as exc:  # the message goes back to the caller
            _reply(clean_message(str(exc)))


def _reply(value: str | None) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def clean_message(message: str) -> str:
    """xgrammar's message without its timestamp and C++ source location."""
    lines = [line for line in message.strip().splitlines() if line.strip()] or ["unknown error"]
    return re.sub(r"^\[[^\]]*\]\s*\S+:\d+:\s*", "", lines[0])[:300]


if __name__ == "__main__":
    main()
