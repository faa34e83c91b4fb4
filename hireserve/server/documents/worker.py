"""A document-reading worker process: prepares one document at a time under OS limits.

Run as `python -m hireserve.server.documents.worker` by documents/pool.py, never by hand. At
start it caps its own address space (RLIMIT_AS, the limits' `max_memory_bytes`), asks the
kernel to kill it when the server dies, imports the readers and says it is ready. Before each
document it sets its CPU soft limit (RLIMIT_CPU) to what it has used plus the document's
`max_cpu_seconds`: past it SIGXCPU ends the document with an error naming the limit, and the
worker exits so the next document gets a fresh process.

Protocol on stdin/stdout, every frame a 4-byte big-endian length and that many bytes:
    worker -> {"ready": true}                                      (JSON, once)
    server -> {"media_type", "filename", "field", "blind", "text": bool, "limits": {...}}
              then a frame of the document (UTF-8 when "text" is true, else the raw bytes)
    worker -> {"ok": to_wire(Prepared)} or {"error": [field, reason], "exit": bool}
              ("exit": it ends after this answer: the document ran past its CPU or memory)
A plain subprocess, not multiprocessing: nothing depends on how the server's __main__ started.
Nothing the worker writes to stderr holds document text (pypdf's logging is silenced).
"""

from __future__ import annotations

import json
import logging
import math
import resource
import signal
import struct
import sys
from typing import Any, BinaryIO

_LENGTH = struct.Struct(">I")
PR_SET_PDEATHSIG = 1


class CpuLimitReached(BaseException):
    """Raised from SIGXCPU: a BaseException, so no reader's `except Exception` swallows it."""


def read_frame(stream: BinaryIO) -> bytes | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None  # the server closed the pipe: exit
    (size,) = _LENGTH.unpack(head)
    body = stream.read(size)
    if len(body) < size:
        return None
    return body


def write_frame(stream: BinaryIO, body: bytes) -> None:
    stream.write(_LENGTH.pack(len(body)) + body)
    stream.flush()


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: stdin EOF still ends the worker
        pass


def _on_sigxcpu(signum: int, frame: Any) -> None:
    raise CpuLimitReached


def _answer(header: dict[str, Any], payload: bytes) -> tuple[dict[str, Any], bool]:
    """(reply, exit after it)."""
    from hireserve.server.documents import DocumentError, DocumentLimits
    from hireserve.server.documents.prepare import prepare, to_wire

    limits = DocumentLimits(**header["limits"])
    field = header["field"]
    used = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(used.ru_utime + used.ru_stime) + limits.max_cpu_seconds
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))
    try:
        data: bytes | str = payload.decode("utf-8") if header["text"] else payload
        prepared = prepare(data, header["media_type"], header["filename"], field=field,
                           blind=header["blind"], limits=limits)
        return {"ok": to_wire(prepared)}, False
    except DocumentError as exc:
        return {"error": [exc.field, exc.reason]}, False
    except CpuLimitReached:
        return {"error": [field, f"reading it takes more than {limits.max_cpu_seconds} "
                                 "CPU-seconds (the limit)"]}, True
    except MemoryError:
        return {"error": [field, "reading it needs more memory than the limit of "
                                 f"{limits.max_memory_bytes // 2**20} MiB"]}, True
    except Exception as exc:  # a bug past the readers: never a traceback quoting the document
        return {"error": [field, f"unreadable document ({type(exc).__name__})"]}, True
    finally:
        resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def main() -> None:
    memory_bytes = int(sys.argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's; it stops us
    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    signal.signal(signal.SIGXCPU, _on_sigxcpu)
    logging.disable(logging.CRITICAL)  # parsers log names and snippets from the documents
    # Import the readers now: the first document should not pay for it.
    import hireserve.server.documents.docx
    import hireserve.server.documents.pdf
    import hireserve.server.documents.prepare  # noqa: F401

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    write_frame(stdout, b'{"ready": true}')
    while (header_frame := read_frame(stdin)) is not None:
        payload = read_frame(stdin)
        if payload is None:
            return
        reply, exit_after = _answer(json.loads(header_frame), payload)
        del payload
        reply["exit"] = exit_after
        write_frame(stdout, json.dumps(reply, ensure_ascii=False).encode("utf-8"))
        if exit_after:
            return


if __name__ == "__main__":
    main()
