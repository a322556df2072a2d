"""Every command's --help names the environment variables it reads and where the README
explains them."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from bot.cli import ENVIRONMENT, build_parser

README = (Path(__file__).parent.parent / "README.md").read_text()


def commands(parser: argparse.ArgumentParser, path: str = "") -> list[tuple[str, str]]:
    found = [(path, parser.format_help())] if path else []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += commands(sub, f"{path} {name}".strip())
    return found


COMMANDS = commands(build_parser())


def test_every_command_is_checked() -> None:
    names = [name for name, _ in COMMANDS]
    missing = [name for name in names if name not in ENVIRONMENT]
    assert not missing, f"add what these read to ENVIRONMENT in bot/cli.py: {missing}"
    assert {"serve", "db upgrade", "sources list", "sources import", "scan", "digest"} <= set(names)
    assert "demo" in names


@pytest.mark.parametrize(("name", "text"), COMMANDS, ids=[name for name, _ in COMMANDS])
def test_help_names_variables_and_readme_section(name: str, text: str) -> None:
    flat = " ".join(text.split())
    assert "environment:" in flat, f"`sources-bot {name} --help` does not name its environment"
    match = re.search(r'README\.md, section "([^"]+)"', flat)
    assert match, f"`sources-bot {name} --help` does not say where the README explains it"
    assert f"## {match.group(1)}" in README
    for variable in re.findall(
        r"[A-Z{][A-Z_{}]*_[A-Z_{}]*[A-Z}]", flat.split("environment:", 1)[1]
    ):
        assert f"`{variable}`" in README, f"{variable} (in `{name} --help`) is not in the README"


def test_serve_help_names_the_slack_and_database_variables() -> None:
    serve = " ".join(dict(COMMANDS)["serve"].split())
    for variable in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DATABASE_URL", "LOG_FORMAT"):
        assert variable in serve
    assert "ignores the environment" in " ".join(dict(COMMANDS)["demo"].split())


def test_serve_help_names_every_variable_the_settings_read() -> None:
    """One list per command in bot/cli.py; this keeps serve's in step with bot/config.py."""
    config = (Path(__file__).parent.parent / "bot" / "config.py").read_text()
    serve = " ".join(dict(COMMANDS)["serve"].split())
    missing = [name for name in set(re.findall(r'get\("([A-Z_]+)"\)', config)) if name not in serve]
    assert not missing, f"`sources-bot serve --help` does not name {sorted(missing)}"
