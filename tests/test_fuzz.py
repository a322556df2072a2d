"""Fuzzing with Hypothesis: `/sources` text, every Block Kit builder, import records.

Whatever people name their accounts, whatever they type and however many sources there are,
what the bot sends stays within Slack's limits (checked with tests/blockkit.py and with
slack_sdk's own block models) and nothing raises where it should answer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from blockkit import validate_message, validate_view
from conftest import TEAM, Harness
from fakes import slack_requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block as SdkBlock

from bot.blocks import Message
from bot.blocks.connect import as_modal, connect_link
from bot.blocks.digest import DigestContent, digest
from bot.blocks.home import HomeSettings, home_view
from bot.blocks.notice import (
    NoticeEntry,
    connected_dm,
    expiry_notice,
    failing_notice,
    reconnected_reply,
    warning_notice,
    wrong_account_reply,
)
from bot.blocks.oncall import claim_reminder, escalation_reply, recovered_reply
from bot.blocks.replies import help_message, short, sources_list
from bot.blocks.texts import SOMETHING_WENT_WRONG
from bot.config import Settings
from bot.domain import Attention, Identity, LastError, SnoozeChoice, SourceInfo, Status
from bot.handlers.commands import parse
from bot.networks import load_catalogue
from bot.services.importer import InvalidImport, parse_records

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
CATALOGUE = load_catalogue(
    Settings.from_env({"LINKEDIN_CLIENT_ID": "a", "LINKEDIN_CLIENT_SECRET": "b"})
)
NETWORKS = list(CATALOGUE)

# Names as people type them: any text, including mrkdwn, mentions, emoji and very long ones.
names = st.text(min_size=1, max_size=255)
user_ids = st.from_regex(r"U[A-Z0-9]{8,10}", fullmatch=True)
moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


@st.composite
def source_infos(draw: st.DrawFn) -> SourceInfo:
    network = draw(st.sampled_from(NETWORKS))
    status = draw(st.sampled_from(list(Status)))
    error = draw(
        st.none()
        | st.builds(
            LastError,
            kind=st.sampled_from(["transient", "expired", "revoked", "internal"]),
            reason=st.text(max_size=600),
            at=moments,
        )
    )
    return SourceInfo(
        id=draw(st.integers(min_value=1, max_value=2**31)),
        workspace_id=TEAM,
        network=network.name,
        network_title=network.title,
        account_id=draw(st.text(min_size=1, max_size=255)),
        name=draw(names),
        status=status,
        expires_at=draw(st.none() | moments),
        last_error=error,
        restored_at=draw(st.none() | moments),
        restored_by=draw(st.none() | user_ids),
        connected_by=draw(st.none() | user_ids),
        connected_as=draw(st.none() | names),
        kind=draw(st.sampled_from(["account", network.page_kind or "account"])),
        renews_at=draw(st.none() | moments),
    )


many_sources = st.lists(source_infos(), max_size=130)


def sdk_check(blocks: list[dict[str, Any]]) -> None:
    """slack_sdk's block models refuse what breaks their limits (SlackObjectFormationError)."""
    for block in blocks:
        model = SdkBlock.parse(block)
        assert model is not None, block
        model.to_dict()


def check_message(message: Message) -> None:
    assert validate_message(message.to_dict()) == []
    sdk_check(message.blocks)


def check_view(view: dict[str, Any]) -> None:
    assert validate_view(view) == []
    sdk_check(view["blocks"])


@FUZZ
@given(many_sources, st.none() | st.sampled_from(["expired", "LinkedIn"]))
def test_sources_list(sources: list[SourceInfo], what: str | None) -> None:
    check_message(sources_list(sources, NOW, what))


@FUZZ
@given(st.none() | st.text(max_size=4000))
def test_help_and_short_replies(text: str | None) -> None:
    check_message(help_message(NETWORKS, text))
    if text and text.strip():  # the bot's own sentences, never blank
        check_message(short(text))


@FUZZ
@given(source_infos(), st.integers(min_value=1, max_value=60), st.booleans())
def test_connect_link_and_its_modal(source: SourceInfo, minutes: int, for_source: bool) -> None:
    url = f"https://bot.example.com/oauth/start/{'x' * 43}"
    message = connect_link(url, source.network_title, minutes, source if for_source else None)
    check_message(message)
    check_view(as_modal(message))


@FUZZ
@given(many_sources, many_sources, many_sources, st.integers(min_value=0, max_value=10**6))
def test_digest(
    expired: list[SourceInfo], expiring: list[SourceInfo], restored: list[SourceInfo], total: int
) -> None:
    content = DigestContent(
        day=date(2026, 11, 28), expired=expired, expiring=expiring, restored=restored, total=total
    )
    check_message(digest(content, NOW))


@FUZZ
@given(
    many_sources,
    st.none() | st.from_regex(r"C[A-Z0-9]{8,10}", fullmatch=True),
    st.integers(min_value=0, max_value=23),
    st.sampled_from(["UTC", "Europe/Paris", "America/Los_Angeles"]),
)
def test_home_view(sources: list[SourceInfo], channel: str | None, hour: int, zone: str) -> None:
    check_view(home_view(sources, NETWORKS, HomeSettings(channel, hour, zone), NOW))


@FUZZ
@given(
    st.lists(
        st.builds(NoticeEntry, source_infos(), st.none() | user_ids, st.none() | moments),
        max_size=80,
    )
)
def test_notices(entries: list[NoticeEntry]) -> None:
    check_message(expiry_notice(entries, NOW))
    check_message(warning_notice(entries, NOW))


@FUZZ
@given(source_infos(), user_ids, names, st.lists(names, max_size=30), st.booleans())
def test_thread_replies_and_dms(
    source: SourceInfo, user: str, connected: str, reaches: list[str], created: bool
) -> None:
    check_message(reconnected_reply(source, user))
    check_message(wrong_account_reply(source, Identity("acct", connected), user, reaches))
    check_message(connected_dm(source, created))


attentions = st.builds(
    Attention,
    claimed_by=st.none() | user_ids,
    snoozed_by=st.none() | user_ids,
    snoozed_until=st.none() | moments,
    choices=st.lists(
        st.builds(SnoozeChoice, st.sampled_from(["1d", "3d", "before"]), names), max_size=3
    ).map(tuple),
    failing_since=st.none() | moments,
)
zones = st.sampled_from(["UTC", "Europe/Paris", "Pacific/Kiritimati"]).map(ZoneInfo)


@FUZZ
@given(
    st.lists(
        st.builds(
            NoticeEntry,
            source_infos(),
            st.none() | user_ids,
            st.none() | moments,
            st.booleans(),
            attentions,
        ),
        max_size=80,
    ),
    zones,
)
def test_notices_with_claims_snoozes_and_failing_renewals(
    entries: list[NoticeEntry], zone: ZoneInfo
) -> None:
    for build in (expiry_notice, warning_notice, failing_notice):
        check_message(build(entries, NOW, zone))


@FUZZ
@given(
    source_infos(),
    moments,
    st.integers(min_value=1, max_value=24 * 30),
    st.none() | user_ids | names,
    st.none() | user_ids,
    st.lists(user_ids, max_size=40),
    st.none() | names,
    zones,
)
def test_workflow_replies_and_dms(
    source: SourceInfo,
    when: datetime,
    hours: int,
    connected_by: str | None,
    claimed_by: str | None,
    admins: list[str],
    group: str | None,
    zone: ZoneInfo,
) -> None:
    check_message(claim_reminder(source, when, NOW))
    check_message(recovered_reply(source, when, zone))
    check_message(escalation_reply(source, hours, connected_by, claimed_by, admins, group))


# /sources text -------------------------------------------------------------------------------

KINDS = {"list", "expired", "network", "connect", "help", "unknown"}


@FUZZ
@given(st.text(max_size=500))
def test_parse_takes_any_text(text: str) -> None:
    parsed = parse(text, CATALOGUE.names())
    assert parsed.kind in KINDS
    if not text.strip():
        assert parsed.kind == "list"
    if parsed.kind == "network":
        assert parsed.arg in CATALOGUE.names()


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.text(max_size=300))
async def test_any_sources_text_gets_an_answer_through_slack(harness: Harness, text: str) -> None:
    before = len(harness.slack.successful_calls("response_url"))
    body, _ = slack_requests.slash_command(
        text=text, team_id=TEAM, response_url=harness.slack.response_url(f"fuzz-{before}")
    )
    assert (await harness.send(body)).status_code == 200
    calls = await harness.slack.wait_for("response_url", before + 1)
    answer = calls[-1].args
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] != SOMETHING_WENT_WRONG
    assert harness.slack.violations == []


# import records ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = [
    "network",
    "account_id",
    "name",
    "kind",
    "access_token",
    "refresh_token",
    "expires_at",
    "scopes",
    "workspace",
]
almost_records = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=10), json_values, max_size=10
)


@FUZZ
@given(json_values | st.lists(almost_records | json_values, max_size=8))
def test_import_refuses_anything_malformed_record_by_record(data: Any) -> None:
    try:
        records = parse_records(data, CATALOGUE)
    except InvalidImport as invalid:
        assert invalid.problems
        for problem in invalid.problems:
            assert problem == "the file must hold a JSON array of records" or problem.startswith(
                "record "
            )
    else:
        assert isinstance(data, list) and len(records) == len(data)


@st.composite
def valid_records(draw: st.DrawFn) -> dict[str, Any]:
    network = draw(st.sampled_from(NETWORKS))
    printable = st.text(
        st.characters(blacklist_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]), min_size=1, max_size=60
    )
    record: dict[str, Any] = {
        "network": draw(st.sampled_from([network.name, network.name.upper(), network.title])),
        "account_id": draw(printable),
        "name": draw(printable),
        "access_token": draw(printable),
        "expires_at": draw(moments).astimezone(draw(st.sampled_from([UTC, None]))).isoformat(),
        "workspace": TEAM,
    }
    if draw(st.booleans()):
        record["refresh_token"] = draw(printable)
    if draw(st.booleans()):
        record["scopes"] = draw(st.lists(printable, max_size=4))
    if network.page_kind and draw(st.booleans()):
        record["kind"] = network.page_kind
    return record


@FUZZ
@given(
    st.lists(
        valid_records(),
        max_size=10,
        unique_by=lambda r: (r["network"].lower(), r["account_id"].strip()),
    )
)
def test_valid_records_are_taken_as_given(data: list[dict[str, Any]]) -> None:
    records = parse_records(data, CATALOGUE)
    assert len(records) == len(data)
    for raw, record in zip(data, records, strict=True):
        assert record.network == raw["network"].lower()
        assert record.identity.name == raw["name"].strip()
        assert record.tokens.access_token == raw["access_token"]
        assert record.tokens.expires_at == datetime.fromisoformat(raw["expires_at"])
