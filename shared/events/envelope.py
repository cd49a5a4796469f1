"""The envelope every event shares, and the field types the contract is built from."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID, uuid4

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
# Union and campaign ids are slugs: they end up in Kafka keys, Redis keys and URLs unescaped.
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
# Person keys and actor ids are opaque: no spaces, no '@', no diacritics, so neither a name nor
# an e-mail address can travel on Kafka in their place (personal data stays in the database).
OpaqueId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
# A deliberately simple check: the email-validator dependency is not worth it for one field.
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]


def _nfc(value: str) -> str:
    # Vietnamese text arrives both precomposed and decomposed ("ệ" as 1 or 3 code points);
    # one form keeps equality, hashing, length limits and search consistent everywhere.
    return unicodedata.normalize("NFC", value)


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_nfc)]
"""Human text: stripped, non-empty, NFC. Bound its length with ``Annotated[Text, MaxChars(n)]``."""


@dataclass(frozen=True)
class MaxChars:
    """Upper bound on a Text's length, counted after NFC normalisation."""

    limit: int

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # Checked after the NFC step: a decomposed title is up to 3 times longer than it reads.
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["maxLength"] = self.limit
        return json_schema

    def _check(self, value: str) -> str:
        if len(value) > self.limit:
            raise PydanticCustomError(
                "string_too_long",
                "String should have at most {max_length} characters",
                {"max_length": self.limit},
            )
        return value


class ContractModel(BaseModel):
    """Base of every model on the wire: immutable, strict about unknown fields."""

    # NaN and infinity have no JSON form: pydantic would write them as null and fail to read back.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _require_wire_keys(schema: dict[str, Any]) -> None:
    # event_id and type have defaults for building events in code, but a message without them
    # is malformed: decode() refuses it, so the exported schema must too.
    required = [key for key in schema.get("required", []) if key not in ("event_id", "type")]
    schema["required"] = ["event_id", "type", *required]


class EventEnvelope(ContractModel):
    """Fields every event carries; subclasses pin ``type`` and ``data``."""

    model_config = ConfigDict(json_schema_extra=_require_wire_keys)

    event_id: UUID = Field(default_factory=uuid4)
    type: str
    occurred_at: AwareDatetime
    campaign_id: Slug | None = None
    union_id: Slug
    # Root..unit, so consumers roll counts up the hierarchy without a registry lookup; 16 levels
    # is far more than the 4 the federation has.
    union_path: list[Slug] = Field(min_length=1, max_length=16)
    data: ContractModel

    @field_validator("union_path")
    @classmethod
    def _path_ends_with_union(cls, path: list[str], info: ValidationInfo) -> list[str]:
        union_id = info.data.get("union_id")
        if union_id is not None and path[-1] != union_id:
            raise ValueError(f"must end with union_id {union_id!r}")
        if len(set(path)) != len(path):
            raise ValueError("must not repeat a unit")
        return path


__all__ = [
    "SLUG_PATTERN",
    "ContractModel",
    "Email",
    "EventEnvelope",
    "MaxChars",
    "OpaqueId",
    "Slug",
    "Text",
]
