"""Every public Block Kit builder of bot/blocks/ has sample calls (tests/block_samples.py),
and every sample is valid: no payload the bot can send escapes the limits checked in
tests/blockkit.py."""

from __future__ import annotations

from typing import Any

import pytest
from block_samples import BLOCK_TYPES, SAMPLES, Sample, public_builders
from blockkit import validate_message, validate_view

from bot.blocks import Message, oncall, settings


def test_every_builder_has_a_sample() -> None:
    builders = public_builders()
    missing = [f"{f.__module__}.{f.__name__}" for f in builders if f not in SAMPLES]
    assert not missing, f"add sample calls to SAMPLES in tests/block_samples.py for: {missing}"
    assert len(builders) >= 30  # the discovery itself finds the builders
    assert oncall.escalation_reply in builders and settings.form_values not in builders


def problems(output: Any) -> list[str]:
    """What Slack would refuse in a builder's output, whatever its shape."""
    if isinstance(output, Message):
        return validate_message(output.to_dict())
    if isinstance(output, list):
        return validate_message({"text": "sample", "blocks": output})
    kind = output.get("type")
    if kind in ("modal", "home"):
        return validate_view(output)
    if kind in BLOCK_TYPES:
        return validate_message({"text": "sample", "blocks": [output]})
    if kind in ("mrkdwn", "plain_text"):
        text_block = {"type": "context", "elements": [output]}
        return validate_message({"text": "sample", "blocks": [text_block]})
    wrapped = {"type": "actions", "elements": [output]}  # an interactive element
    return validate_message({"text": "sample", "blocks": [wrapped]})


@pytest.mark.parametrize(
    "sample",
    [sample for samples in SAMPLES.values() for sample in samples],
    ids=[
        f"{builder.__module__.removeprefix('bot.blocks.')}.{builder.__name__}-{n}"
        for builder, samples in SAMPLES.items()
        for n in range(len(samples))
    ],
)
def test_every_sample_is_valid_block_kit(sample: Sample) -> None:
    assert problems(sample()) == []
