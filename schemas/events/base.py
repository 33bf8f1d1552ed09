from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    """Base of every event payload. Subclasses set the type name and schema version; a breaking
    change gets a new version (a new class), never an edit of a published one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    version: ClassVar[int] = 1
