"""The production files (Dockerfile, compose.yaml, deploy/) say what README.md says.

Docker cannot run here; hadolint lints the Dockerfile in CI. These tests read the files
and run the image's health check command against a live server.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import yaml

from bot.demo.server import bind, running

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
PRODUCTION = README[README.index("## Run in production") : README.index("## Layout")]
CONFIGURATION = README[README.index("## Configuration") : README.index("## Command line")]


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


DOCKERFILE = instructions((ROOT / "Dockerfile").read_text())
FINAL = DOCKERFILE[max(i for i, (word, _) in enumerate(DOCKERFILE) if word == "FROM") :]


def final(word: str) -> list[str]:
    return [args for w, args in FINAL if w == word]


def test_image_is_multi_stage_slim_and_unprivileged() -> None:
    bases = [args for word, args in DOCKERFILE if word == "FROM"]
    assert len(bases) >= 2 and all("-slim" in base for base in bases)
    (user,) = final("USER")
    assert user.split(":")[0].isdigit() and user.split(":")[0] != "0"
    assert f"`{user.split(':')[0]}`" in PRODUCTION


def test_image_command_and_environment_match_the_readme() -> None:
    (cmd,) = final("CMD")
    assert json.loads(cmd) == ["sources-bot", "serve"]
    assert "`sources-bot serve`" in PRODUCTION
    env = dict(pair.split("=", 1) for args in final("ENV") for pair in args.split() if "=" in pair)
    env.pop("PATH")
    for name, value in env.items():
        if name.startswith("PYTHON"):
            continue
        assert f"`{name}={value}`" in PRODUCTION, f"README does not say the image sets {name}"
        assert f"`{name}`" in CONFIGURATION
    (expose,) = final("EXPOSE")
    assert expose == env["PORT"] and f"port {expose}" in PRODUCTION
    needed = re.search(r"at least ([^.]+)\.", PRODUCTION.replace("\n", " "))
    assert needed
    for name in re.findall(r"`([A-Z_]+)`", needed.group(1)):
        assert f"`{name}`" in CONFIGURATION


async def test_health_check_asks_healthz_without_curl(tmp_path: Path) -> None:
    (check,) = final("HEALTHCHECK")
    assert "curl" not in check and "wget" not in check
    command = json.loads(check[check.index("CMD ") + 4 :])
    assert command[:2] == ["python", "-c"] and "/healthz" in command[2]
    with bind(0) as sock:
        async with running(sock, tmp_path, scheduler=False):
            port = str(sock.getsockname()[1])
            alive = await asyncio.create_subprocess_exec(
                sys.executable, "-c", command[2], env={**os.environ, "PORT": port}
            )
            assert await alive.wait() == 0
    dead = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        command[2],
        env={**os.environ, "PORT": "9"},
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert await dead.wait() != 0


async def test_compose_runs_postgres_16_and_the_bot() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    db, bot = compose["services"]["db"], compose["services"]["bot"]
    assert db["image"] == "postgres:16"
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql://sources_bot:")
    for name in bot["environment"]:
        documented = re.sub(r"^LINKEDIN_", "{NETWORK}_", name)
        assert f"`{documented}`" in CONFIGURATION or f"`{name}`" in PRODUCTION, name
    assert all(port.startswith("127.0.0.1:") for port in bot["ports"])
    assert "`POSTGRES_PASSWORD`" in PRODUCTION


def test_systemd_unit_serves_with_its_environment_file() -> None:
    unit = (ROOT / "deploy" / "sources-bot.service").read_text()
    exec_start = re.search(r"^ExecStart=(.+)$", unit, re.MULTILINE)
    assert exec_start and exec_start.group(1).split()[1:3] == ["serve", "--host"]
    assert f"`{exec_start.group(1)}`" in PRODUCTION.replace("\n  ", " ")
    environment_file = re.search(r"^EnvironmentFile=(.+)$", unit, re.MULTILINE)
    assert environment_file and f"`{environment_file.group(1)}`" in PRODUCTION
    assert "[Install]" in unit and "Restart=on-failure" in unit


def test_caddy_example_is_the_shipped_one() -> None:
    caddy = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy 127.0.0.1:3000" in caddy and "reverse_proxy 127.0.0.1:3000" in PRODUCTION
    assert "health_uri /readyz" in caddy and "health_uri /readyz" in PRODUCTION
