"""What Slack shows about disabled webhook endpoints (bot/blocks/webhooks.py)."""

from __future__ import annotations

from blockkit import assert_valid_message, assert_valid_view
from sample_sources import NOW, all_text, stray_angle_brackets

from bot.blocks.webhooks import disabled_webhooks_blocks, webhook_disabled_message
from bot.domain import WebhookEndpointInfo


def endpoint(
    url: str = "https://hooks.example/in?token=s3cret", **fields: object
) -> WebhookEndpointInfo:
    values: dict[str, object] = {
        "id": 7,
        "workspace_id": "T1",
        "url": url,
        "event_types": None,
        "created_at": NOW,
        "disabled_at": NOW,
        "disabled_reason": "it answered 410 Gone",
    }
    values.update(fields)
    return WebhookEndpointInfo(**values)  # type: ignore[arg-type]


def test_the_announcement_says_where_why_and_how_to_bring_it_back() -> None:
    message = webhook_disabled_message(endpoint())

    assert_valid_message(message.to_dict())
    text = all_text(message.blocks)
    assert "https://hooks.example/in" in text
    assert "it answered 410 Gone" in text
    assert "sources-bot webhooks enable 7" in text
    assert "s3cret" not in text + message.text  # the query string is not shown
    assert "*" not in message.text


def test_hostile_urls_and_reasons_cannot_form_links_or_mentions() -> None:
    hostile = endpoint(
        "https://x.example/<!channel>`<@U1>", disabled_reason="<https://evil.test|click> &"
    )
    message = webhook_disabled_message(hostile)
    blocks = disabled_webhooks_blocks([hostile])

    for text in (all_text(message.blocks), all_text(blocks)):
        assert stray_angle_brackets(text) == []
        assert "<!channel>" not in text and "<@U1>" not in text


def test_the_app_home_lists_each_disabled_endpoint() -> None:
    blocks = disabled_webhooks_blocks(
        [endpoint(), endpoint("https://b.example/" + "p" * 3000, id=8, disabled_reason=None)]
    )

    assert_valid_view({"type": "home", "blocks": blocks})
    text = all_text(blocks)
    assert "https://hooks.example/in" in text and "https://b.example/" in text
    assert f"since {NOW.day} {NOW:%b %Y}" in text
    assert "webhooks enable 8" in text
    assert disabled_webhooks_blocks([]) == []
