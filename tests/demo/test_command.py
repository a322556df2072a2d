"""`sources-bot demo` as a person runs it: one command, one URL, nothing left behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_one_url_that_answers_and_leaves_nothing_behind(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "SLACK_BOT_TOKEN": "ignored", "PORT": "1"}
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()  # blocks until the demo answers (or exits)
            match = re.search(r"(http://localhost:[0-9]+/demo)[ ]", line)
            assert match, f"no URL in {line!r}"
            page = httpx2.get(match.group(1), timeout=10)
            assert page.status_code == 200 and "sources-bot" in page.text
            (workdir,) = tmp_path.iterdir()
            assert workdir.name.startswith("sources-bot-demo-")
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=20) == 0
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert leftovers == [], "the demo's temporary directory (database, key) was not removed"


def test_demo_refuses_a_busy_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "bot", "demo", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert done.returncode == 1
    assert f"port {port} is not free" in done.stderr and f"--port {port + 1}" in done.stderr


def test_serve_and_the_app_never_load_the_demo() -> None:
    code = (
        "import sys, bot.cli, bot.app; bot.cli.build_parser(); "
        "print(sorted(m for m in sys.modules if m.startswith('bot.demo')))"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_demo_ships_in_the_package() -> None:
    from importlib import resources

    static = resources.files("bot.demo").joinpath("static")
    assert {p.name for p in static.iterdir()} >= {"index.html", "sandbox.js", "sandbox.css"}
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"demo/static/*"' in pyproject
