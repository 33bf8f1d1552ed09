"""The event envelope: CloudEvents 1.0 attribute names plus extension attributes
(lower-case, as CloudEvents requires) for the aggregate, its version, correlation and causation."""

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.text import Id, LongId


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """One immutable fact. `type` + `dataversion` select the payload schema in `data`."""

    # Every attribute a consumer relies on is required (no default): consumers dedupe on `id`,
    # date effects with `time` and order by the aggregate, so a message without one is poison,
    # never given a made-up value. eventkit.codec.new_envelope sets them all.

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = Field(description="CloudEvents version")
    id: UUID = Field(description="Unique event id; consumers dedupe on it")
    source: Id = Field(
        description="URI-reference of the emitting service, e.g. /coinstream/gifting"
    )
    type: Id = Field(description="Event type name, e.g. GiftSent")
    dataversion: int = Field(ge=1, description="Schema version of `data` for this type")
    time: AwareDatetime = Field(description="When the fact happened (with its UTC offset)")
    subject: LongId | None = Field(
        default=None, description="What the event is about, e.g. a user id"
    )
    datacontenttype: Literal["application/json"] = "application/json"
    aggregateid: LongId = Field(
        description="Stream id; also the Kafka message key (order per aggregate)"
    )
    aggregateversion: int = Field(ge=1, description="Version of the aggregate after this event")
    correlationid: UUID = Field(description="Id shared by every event of one business flow")
    causationid: UUID | None = Field(
        default=None, description="Id of the event or command that caused this one"
    )
    data: dict[str, Any]
