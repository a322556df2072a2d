"""Benchmark (not a test): how long `sources-bot demo` takes from the command to a page.

Each run starts `python -m bot demo --port 0` as a person would, reads the URL it prints and
times the moment that URL answers 200 (the page's first request). The floor, measured in the
same run, is `python -m bot --help`: the interpreter starting and importing the command line,
which any command pays. The ratio says what the demo adds (imports of the bot, Bolt and the
web stack, the SQLite migration, the seeded source, the server start).

Run from the repository root:  .venv/bin/python bench/bench_demo_start.py
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

RUNS = 5


def floor() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bot", "--help"], check=True, capture_output=True)
    return time.perf_counter() - started


def demo_start() -> tuple[float, float]:
    """(seconds until the URL was printed, seconds until the page answered)."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        with subprocess.Popen(
            [sys.executable, "-m", "bot", "demo", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "TMPDIR": tmp},
        ) as process:
            assert process.stdout is not None
            line = process.stdout.readline()
            printed = time.perf_counter() - started
            match = re.search(r"(http://localhost:[0-9]+/demo)", line)
            assert match, line
            with urllib.request.urlopen(match.group(1), timeout=10) as page:  # noqa: S310
                assert page.status == 200
            answered = time.perf_counter() - started
            process.send_signal(signal.SIGINT)
            process.wait(timeout=20)
    return printed, answered


def main() -> None:
    floors = [floor() for _ in range(RUNS)]
    starts = [demo_start() for _ in range(RUNS)]
    base = statistics.median(floors)
    printed = statistics.median(s[0] for s in starts)
    answered = statistics.median(s[1] for s in starts)
    print(f"runs: {RUNS} (medians)")
    print(f"floor: python -m bot --help            {base:6.2f} s")
    print(f"demo: command to URL printed           {printed:6.2f} s")
    print(
        f"demo: command to page answering (200)  {answered:6.2f} s  = {answered / base:.1f}x floor"
    )
    print(f"demo: slowest page answer              {max(s[1] for s in starts):6.2f} s")


if __name__ == "__main__":
    main()
