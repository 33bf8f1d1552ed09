"""The compatibility gate: every released (type, version) schema is frozen under
schemas/released/, and the current model for it must still accept everything the frozen one
accepted (schemas/COMPATIBILITY.md). The checker's own tests show each rule catching a real
breaking change and letting a legal one through."""

import copy
import json
from typing import Literal

import pytest
from pydantic import Field

from schemas import generate
from schemas.compat import breaking_changes
from schemas.events.gifting import GiftContext, GiftSent, GiftSentV2

RELEASED = generate.RELEASED


def frozen(name: str) -> dict:
    return json.loads((RELEASED / name).read_text())


def current(name: str) -> dict:
    return json.loads(generate.rendered()[name])


def test_every_generated_schema_is_frozen():
    assert generate.unreleased() == [], "run `make schemas` and commit schemas/released"


@pytest.mark.parametrize("name", sorted(p.name for p in RELEASED.glob("*.json")))
def test_the_current_model_reads_everything_its_released_version_accepted(name):
    assert name in generate.rendered(), f"{name} was released; its model must stay registered"
    assert breaking_changes(frozen(name), current(name)) == [], (
        f"{name} changed incompatibly: publish a new version instead (schemas/COMPATIBILITY.md)"
    )


def test_release_never_overwrites_a_frozen_schema(tmp_path, monkeypatch):
    monkeypatch.setattr(generate, "RELEASED", tmp_path)
    assert "GiftSent.v1.json" in generate.release()
    (tmp_path / "GiftSent.v1.json").write_text("{}\n")
    assert generate.release() == []
    assert (tmp_path / "GiftSent.v1.json").read_text() == "{}\n"


# --- the gate fails on real breaking edits of GiftSent v1 -----------------------------------


class NarrowedQuantity(GiftSent):
    quantity: int = Field(gt=0, le=99)


class NarrowedContext(GiftContext):
    kind: Literal["live", "video"]  # type: ignore[assignment]


class ShrunkEnum(GiftSent):
    context: NarrowedContext  # type: ignore[assignment]


class NewRequired(GiftSent):
    room_id: str


class NowRequired(GiftSent):
    combo_count: int = Field(ge=1)  # type: ignore[assignment]


class RateAsNumberOnly(GiftSent):
    diamonds_per_coin: float = Field(ge=0)  # type: ignore[assignment]


def renamed(schema: dict, old: str, new: str) -> dict:
    edited = copy.deepcopy(schema)
    edited["properties"][new] = edited["properties"].pop(old)
    edited["required"] = [new if r == old else r for r in edited["required"]]
    return edited


@pytest.mark.parametrize(
    ("edit", "found"),
    [
        (lambda s: renamed(s, "quantity", "qty"), "quantity: removed (or renamed)"),
        (
            lambda s: NarrowedQuantity.model_json_schema(),
            "quantity: maximum narrowed from none to 99",
        ),
        (lambda s: ShrunkEnum.model_json_schema(), "context.kind: enum values ['comment']"),
        (lambda s: NewRequired.model_json_schema(), "room_id: new required field"),
        (lambda s: NowRequired.model_json_schema(), "combo_count: now required"),
        (lambda s: RateAsNumberOnly.model_json_schema(), "diamonds_per_coin: alternative 1"),
    ],
    ids=["rename", "narrowed range", "enum shrink", "new required", "made required", "type"],
)
def test_the_gate_refuses_a_breaking_edit_of_gift_sent_v1(edit, found):
    changes = breaking_changes(frozen("GiftSent.v1.json"), edit(frozen("GiftSent.v1.json")))
    assert any(c.startswith(found) for c in changes), changes


@pytest.mark.parametrize(
    ("old", "new", "found"),
    [
        ({"type": "integer", "minimum": 0}, {"type": "integer", "minimum": 1}, "minimum narrowed"),
        ({"type": "string", "maxLength": 9}, {"type": "string", "maxLength": 8}, "maxLength"),
        ({"type": "string"}, {"type": "string", "pattern": "^a"}, "pattern changed"),
        ({"type": "string", "pattern": "^a"}, {"type": "string", "pattern": "^b"}, "pattern"),
        ({"type": "number"}, {"type": "integer"}, "type narrowed"),
        ({"enum": ["a", "b"]}, {"enum": ["b"]}, "enum values ['a'] removed"),
        ({"type": "integer", "default": 1}, {"type": "integer", "default": 2}, "default"),
        ({"type": "object"}, {"type": "object", "additionalProperties": False}, "closed"),
        ({"minItems": 1}, {"minItems": 2}, "minItems"),
        ({"type": "string"}, {"type": "string", "madeUpKeyword": 1}, "cannot compare"),
    ],
)
def test_each_rule_catches_its_narrowing(old, new, found):
    assert any(found in c for c in breaking_changes(old, new)), breaking_changes(old, new)


class NewOptional(GiftSent):
    room_id: str | None = None


class WiderQuantity(GiftSent):
    quantity: int = Field(ge=0)  # gt=0 -> ge=0 lets 0 through too


class GrownEnum(GiftContext):
    kind: Literal["live", "video", "comment", "story"]  # type: ignore[assignment]


class GrownContext(GiftSent):
    context: GrownEnum  # type: ignore[assignment]


class OptionalBalance(GiftSent):
    balance_after: int | None = None  # type: ignore[assignment]


@pytest.mark.parametrize(
    "model", [NewOptional, WiderQuantity, GrownContext, OptionalBalance], ids=lambda m: m.__name__
)
def test_the_gate_accepts_a_legal_change(model):
    assert breaking_changes(frozen("GiftSent.v1.json"), model.model_json_schema()) == []


def test_widening_ranges_and_types_is_legal():
    assert breaking_changes({"type": "integer", "maximum": 5}, {"type": "number"}) == []
    assert breaking_changes({"type": "string", "pattern": "^a"}, {"type": "string"}) == []
    assert breaking_changes({"enum": ["a"]}, {"enum": ["a", "b"]}) == []
    assert (
        breaking_changes({"type": "integer"}, {"anyOf": [{"type": "integer"}, {"type": "null"}]})
        == []
    )


def test_gift_sent_v2_could_not_have_been_an_edit_of_v1():
    """Why v2 is a new version: as an edit of v1 the gate would refuse it."""
    changes = breaking_changes(frozen("GiftSent.v1.json"), GiftSentV2.model_json_schema())
    assert "creator_id: removed (or renamed)" in changes
    assert "recipients: new required field" in changes
