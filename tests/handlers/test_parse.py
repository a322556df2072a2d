"""What `/sources ...` asks for (bot.handlers.commands.parse)."""

from __future__ import annotations

import pytest

from bot.handlers.commands import Parsed, parse

NETWORKS = ["linkedin", "x", "facebook"]


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_nothing_lists_every_source(text: str) -> None:
    assert parse(text, NETWORKS) == Parsed("list")


@pytest.mark.parametrize("text", ["expired", "EXPIRED", "  Expired  "])
def test_expired(text: str) -> None:
    assert parse(text, NETWORKS) == Parsed("expired")


@pytest.mark.parametrize("text", ["help", "HELP", "-h", "--help", "?", " help "])
def test_help(text: str) -> None:
    assert parse(text, NETWORKS) == Parsed("help")


@pytest.mark.parametrize(
    ("text", "network"),
    [
        ("connect linkedin", "linkedin"),
        ("Connect LinkedIn", "linkedin"),
        ("  connect   x  ", "x"),
        ("connect myspace", "myspace"),  # unknown networks are the connect service's to refuse
    ],
)
def test_connect_with_a_network(text: str, network: str) -> None:
    assert parse(text, NETWORKS) == Parsed("connect", network)


@pytest.mark.parametrize("text", ["connect", " CONNECT "])
def test_connect_without_a_network_asks_which(text: str) -> None:
    assert parse(text, NETWORKS) == Parsed("connect", "")


@pytest.mark.parametrize(
    ("text", "network"), [("linkedin", "linkedin"), ("LinkedIn", "linkedin"), (" x ", "x")]
)
def test_a_network_name_filters(text: str, network: str) -> None:
    assert parse(text, NETWORKS) == Parsed("network", network)


@pytest.mark.parametrize(
    "text",
    [
        "myspace",
        "list please",
        "expired linkedin",
        "help me",
        "linkedin expired",
        "connect linkedin now",
        "<!channel>",
    ],
)
def test_anything_else_is_unknown_and_keeps_what_was_typed(text: str) -> None:
    assert parse(f"  {text} ", NETWORKS) == Parsed("unknown", text)


def test_a_network_is_only_known_if_the_catalogue_has_it() -> None:
    assert parse("linkedin", []) == Parsed("unknown", "linkedin")
