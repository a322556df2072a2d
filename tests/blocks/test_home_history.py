"""The App Home's History buttons, one per source shown (bot/blocks/home.py, sources.py)."""

from __future__ import annotations

from collections import Counter

from blockkit import assert_valid_view
from sample_sources import NOW, all_text, buttons, context_texts, many_sources, more_count, source

from bot import ids
from bot.blocks.home import MAX_HOME_BLOCKS, HomeSettings, home_view
from bot.blocks.replies import sources_list
from bot.blocks.sources import source_line
from bot.config import Settings
from bot.domain import Status
from bot.networks import load_catalogue

SETTINGS = HomeSettings(notify_channel="C123", digest_hour=9, digest_timezone="UTC")
NETWORKS = list(load_catalogue(Settings.from_env({})))


def history_values(view: dict[str, object]) -> list[str]:
    blocks = view["blocks"]
    assert isinstance(blocks, list)
    return [b["value"] for b in buttons(blocks) if b["action_id"] == ids.SOURCE_HISTORY]


def test_every_source_shown_has_its_history_button() -> None:
    sources = many_sources(30)
    view = home_view(sources, NETWORKS, SETTINGS, NOW)
    assert_valid_view(view)
    assert Counter(history_values(view)) == Counter(str(s.id) for s in sources)
    expired = next(s for s in sources if s.status is Status.EXPIRED)
    assert f"\n{expired.label.split(' <')[0]}" in all_text(view["blocks"])  # name under problem


def test_many_sources_fit_and_the_rest_are_counted() -> None:
    view = home_view(many_sources(500), NETWORKS, SETTINGS, NOW)
    assert_valid_view(view)
    assert len(view["blocks"]) <= MAX_HOME_BLOCKS
    (more,) = [text for text in context_texts(view["blocks"]) if "more source" in text]
    assert len(history_values(view)) + more_count(more) == 500


def test_a_healthy_source_is_one_line_with_its_button() -> None:
    healthy = source(Status.ACTIVE, name="Fine", id=5)
    view = home_view([healthy], NETWORKS, SETTINGS, NOW)
    (block,) = [b for b in view["blocks"] if b.get("accessory", {}).get("value") == "5"]
    assert block["text"]["text"] == source_line(healthy, NOW)
    assert block["accessory"]["action_id"] == ids.SOURCE_HISTORY


def test_messages_in_channels_keep_their_compact_lines() -> None:
    message = sources_list([source(Status.ACTIVE, name=f"S{n}") for n in range(5)], NOW)
    assert [b for b in buttons(message.blocks) if b["action_id"] == ids.SOURCE_HISTORY] == []
    assert len(message.blocks) == 2
