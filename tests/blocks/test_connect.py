"""The private sign-in link and its modal (bot/blocks/connect.py)."""

from __future__ import annotations

from blockkit import assert_valid_message, assert_valid_view
from sample_sources import HOSTILE_NAME, all_text, buttons, context_texts, section_texts, source

from bot import ids
from bot.blocks.connect import as_modal, connect_link
from bot.domain import Status

URL = "https://www.linkedin.com/oauth/v2/authorization?state=abc"


def test_reconnect_link_has_a_url_button_and_the_privacy_note() -> None:
    message = connect_link(URL, "LinkedIn", 10, source(Status.EXPIRED, name="Acme"))

    assert_valid_message(message.to_dict())
    (button,) = buttons(message.blocks)
    assert button["action_id"] == ids.OPEN_OAUTH_LINK == "open_oauth_link"
    assert button["url"] == URL
    assert button["text"]["text"] == "Open LinkedIn"
    assert context_texts(message.blocks) == [
        "This link is only for you, works once and expires in 10 minutes."
    ]
    (text,) = section_texts(message.blocks)
    assert text == (
        "Reconnect *LinkedIn · Acme*: sign in to LinkedIn as *Acme*, or as a person who manages it."
    )
    assert message.text == "Your link to reconnect LinkedIn · Acme"


def test_new_connection_link() -> None:
    message = connect_link(URL, "LinkedIn", 15)

    assert_valid_message(message.to_dict())
    assert section_texts(message.blocks) == [
        "Connect a LinkedIn account: sign in to LinkedIn with it."
    ]
    assert "expires in 15 minutes" in context_texts(message.blocks)[0]
    assert message.text == "Your link to connect a LinkedIn account"


def test_the_link_never_shows_as_text() -> None:
    message = connect_link(URL, "LinkedIn", 10, source(Status.EXPIRED))

    assert "state=abc" not in all_text(message.blocks)
    assert "state=abc" not in message.text


def test_names_are_escaped() -> None:
    text = all_text(
        connect_link(URL, "LinkedIn", 10, source(Status.EXPIRED, name=HOSTILE_NAME)).blocks
    )

    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text


def test_as_modal_is_a_valid_modal_with_the_same_blocks() -> None:
    message = connect_link(URL, "LinkedIn", 10, source(Status.EXPIRED))

    view = as_modal(message)

    assert_valid_view(view)
    assert view["type"] == "modal"
    assert len(view["title"]["text"]) <= 24
    assert view["title"]["type"] == "plain_text"
    assert view["blocks"] == message.blocks
    assert buttons(view["blocks"])[0]["url"] == URL
