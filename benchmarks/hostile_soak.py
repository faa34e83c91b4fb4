"""A mixed soak of normal and hostile traffic against a live server, with health probed all along.

    python -m benchmarks.hostile_soak [--duration 600] [--model default] [--clients 3]

Starts `hireserve serve` (SmolLM2-135M by default), then `--clients` threads send, in turn:
normal Screens (text, PDF, DOCX examples), a ScreenBatch of three good resumes and two bad ones,
and hostile calls: the shared-content-stream PDF bomb, a DOCX that crashed the reader, invalid
UTF-8, a job description over the limit, a 19 MiB upload of random bytes, a Screen with a 2 s
deadline, a ScreenBatch cancelled after its first result. Every answer's code is checked
against the one that call must get; a health probe runs every 100 ms. Prints the counts by kind
and code, the unexpected answers (there must be none), health latency, and the server's RSS and
CPU time at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hireserve.v1 import common_pb2, screening_pb2, screening_pb2_grpc

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
sys.path.insert(0, str(REPO / "tests"))
from hostile_docs import shared_content_pdf  # noqa: E402

OK, BAD = grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT
JD = (EXAMPLES / "jobs" / "backend_engineer.txt").read_text()
CRASHER = (REPO / "tests" / "fixtures" / "crashers" /
           "docx-header-missing-relationship.docx").read_bytes()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_stats(pid: int) -> tuple[float, float]:
    """(RSS MiB, CPU seconds) of a process."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, cpu


def _doc(path: Path) -> common_pb2.Document:
    if path.suffix in (".txt", ".md"):
        return common_pb2.Document(text=path.read_text(), filename=path.name)
    return common_pb2.Document(data=path.read_bytes(), filename=path.name)


class Soak:
    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel
        self.stub = screening_pb2_grpc.ScreeningServiceStub(channel)
        self.counts: Counter[tuple[str, str]] = Counter()
        self.unexpected: list[str] = []
        self.lock = threading.Lock()
        resumes = sorted(p for p in (EXAMPLES / "resumes").iterdir()
                         if p.suffix in (".pdf", ".docx", ".txt", ".md"))
        self.resumes = [_doc(p) for p in resumes]
        self.bomb = shared_content_pdf()
        self.kinds: list[tuple[str, Callable[[random.Random], grpc.StatusCode], set]] = [
            ("screen", self.screen, {OK}),
            ("batch 3 good + 2 bad", self.batch, {OK}),
            ("pdf bomb", self.bomb_screen, {BAD}),
            ("crasher docx", self.crasher, {BAD}),
            ("invalid utf-8", self.bad_utf8, {BAD}),
            ("jd over limit", self.long_jd, {BAD}),
            ("19 MiB random upload", self.big_upload, {BAD}),
            ("2 s deadline", self.short_deadline, {OK, grpc.StatusCode.DEADLINE_EXCEEDED}),
            ("batch cancelled", self.cancelled_batch, {grpc.StatusCode.CANCELLED}),
        ]

    def _call(self, fn: Callable[[], object]) -> grpc.StatusCode:
        try:
            fn()
        except grpc.RpcError as exc:
            return exc.code()
        return OK

    def screen(self, rng: random.Random) -> grpc.StatusCode:
        doc = rng.choice(self.resumes)
        return self._call(lambda: self.stub.Screen(
            screening_pb2.ScreenRequest(job_description=JD, resume=doc), timeout=600))

    def batch(self, rng: random.Random) -> grpc.StatusCode:
        good = rng.sample(self.resumes, 3)
        bad = [common_pb2.Document(data=CRASHER, filename="c.docx"),
               common_pb2.Document(data=self.bomb, filename="b.pdf")]
        items = [screening_pb2.BatchResume(resume_id=f"r{i}", resume=d)
                 for i, d in enumerate(good + bad)]

        def run() -> None:
            out = list(self.stub.ScreenBatch(screening_pb2.ScreenBatchRequest(
                job_description=JD, resumes=items), timeout=1800))
            failed = sorted(out[-1].ranking.failed_resume_ids)
            if failed != ["r3", "r4"]:
                raise AssertionError(f"failed ids {failed}")

        try:
            return self._call(run)
        except AssertionError as exc:
            with self.lock:
                self.unexpected.append(f"batch: {exc}")
            return grpc.StatusCode.UNKNOWN

    def bomb_screen(self, rng: random.Random) -> grpc.StatusCode:
        return self._call(lambda: self.stub.Screen(screening_pb2.ScreenRequest(
            job_description=JD, resume=common_pb2.Document(data=self.bomb, filename="b.pdf")),
            timeout=60))

    def crasher(self, rng: random.Random) -> grpc.StatusCode:
        return self._call(lambda: self.stub.Screen(screening_pb2.ScreenRequest(
            job_description=JD, resume=common_pb2.Document(data=CRASHER, filename="c.docx")),
            timeout=60))

    def bad_utf8(self, rng: random.Random) -> grpc.StatusCode:
        data = screening_pb2.ScreenRequest(job_description=JD, resume=common_pb2.Document(
            text="Jane", filename="XXXX.txt")).SerializeToString().replace(b"XXXX", b"\xff" * 4)
        call = self.channel.unary_unary("/hireserve.v1.ScreeningService/Screen")
        return self._call(lambda: call(data, timeout=60))

    def long_jd(self, rng: random.Random) -> grpc.StatusCode:
        return self._call(lambda: self.stub.Screen(screening_pb2.ScreenRequest(
            job_description="x" * 200_000, resume=self.resumes[0]), timeout=60))

    def big_upload(self, rng: random.Random) -> grpc.StatusCode:
        data = rng.randbytes(19 * 2**20)
        return self._call(lambda: self.stub.Screen(screening_pb2.ScreenRequest(
            job_description=JD, resume=common_pb2.Document(data=data, filename="cv.pdf")),
            timeout=120))

    def short_deadline(self, rng: random.Random) -> grpc.StatusCode:
        doc = rng.choice(self.resumes)
        return self._call(lambda: self.stub.Screen(
            screening_pb2.ScreenRequest(job_description=JD, resume=doc), timeout=2.0))

    def cancelled_batch(self, rng: random.Random) -> grpc.StatusCode:
        items = [screening_pb2.BatchResume(resume_id=f"r{i}", resume=d)
                 for i, d in enumerate(self.resumes)]
        stream = self.stub.ScreenBatch(screening_pb2.ScreenBatchRequest(
            job_description=JD, resumes=items), timeout=1800)
        time.sleep(rng.uniform(0.5, 3.0))
        stream.cancel()
        return self._call(lambda: list(stream))

    def client(self, seed: int, end: float) -> None:
        rng = random.Random(seed)
        while time.monotonic() < end:
            name, fn, allowed = rng.choice(self.kinds)
            code = fn(rng)
            with self.lock:
                self.counts[name, code.name] += 1
                if code not in allowed:
                    self.unexpected.append(f"{name}: {code.name}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=600)
    p.add_argument("--model", default="default")
    p.add_argument("--clients", type=int, default=3)
    p.add_argument("--normal-only", action="store_true",
                   help="only the normal calls: the baseline for health latency")
    args = p.parse_args()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "hireserve.clients.cli", "serve", "--model", args.model,
         "--port", str(port), "--metrics-port", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[
            ("grpc.max_send_message_length", 64 * 2**20)])
        grpc.channel_ready_future(channel).result(timeout=300)
        health = health_pb2_grpc.HealthStub(channel)
        while health.Check(health_pb2.HealthCheckRequest()).status != 1:
            time.sleep(0.2)
        soak = Soak(channel)
        if args.normal_only:
            soak.kinds = [k for k in soak.kinds if k[0] == "screen"]
        start_rss, start_cpu = _proc_stats(server.pid)
        end = time.monotonic() + args.duration
        latencies: list[float] = []
        not_serving = 0

        def probe() -> None:
            nonlocal not_serving
            while time.monotonic() < end:
                t = time.perf_counter()
                status = health.Check(health_pb2.HealthCheckRequest(), timeout=10).status
                latencies.append(time.perf_counter() - t)
                not_serving += status != 1
                time.sleep(0.1)

        threads = [threading.Thread(target=probe)] + [
            threading.Thread(target=soak.client, args=(seed, end)) for seed in range(args.clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - started
        time.sleep(2.0)
        end_rss, end_cpu = _proc_stats(server.pid)
        workers = subprocess.run(["pgrep", "-P", str(server.pid), "-f", "documents.worker"],
                                 capture_output=True, text=True).stdout.split()
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
    stderr = server.stderr.read() if server.stderr else ""
    total = sum(soak.counts.values())
    print(f"soak: {took:.0f} s, {args.clients} clients, {total} calls, model {args.model}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for (name, code), n in sorted(soak.counts.items()):
        print(f"  {name:24} {code:20} {n}")
    print(f"unexpected answers: {len(soak.unexpected)} {soak.unexpected[:10]}")
    latencies.sort()
    print(f"health: {len(latencies)} probes, median {statistics.median(latencies) * 1e3:.1f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.1f} ms, "
          f"max {latencies[-1] * 1e3:.1f} ms, NOT_SERVING {not_serving}")
    print(f"server RSS {start_rss:.0f} -> {end_rss:.0f} MiB, CPU {end_cpu - start_cpu:.0f} s "
          f"over the soak; document workers alive at the end: {len(workers)}")
    errors = sum('"level": "error"' in line for line in stderr.splitlines())
    print(f"server log lines at ERROR: {errors}, tracebacks: {stderr.count('Traceback')}")


if __name__ == "__main__":
    main()
