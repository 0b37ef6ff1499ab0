"""Field helpers shared by the API models: patterns, CEL rules, durations and decimals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel

JsonDict = dict[str, JsonValue]

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DURATION = r"^([0-9]+(ms|s|m|h))+$"


def cel(rule: str, message: str) -> JsonDict:
    return {"rule": rule, "message": message}


def exactly_one(fields: Sequence[str], message: str) -> JsonDict:
    """A CEL rule: exactly one of the optional fields is set."""
    present = ", ".join(f"has(self.{name})" for name in fields)
    return cel(f"[{present}].filter(set, set).size() == 1", message)


# On a list of gates: each name appears once.
UNIQUE_NAMES = cel("self.all(g, self.exists_one(h, h.name == g.name))", "gate names must be unique")


def duration_field(description: str, minimum: str, maximum: str, **kw: Any) -> Any:
    """A Go-style duration string ("30s", "5m", "1h30m") bounded by CEL."""
    # The matches() guard keeps "10d" or "soon" from reaching duration(), which would fail
    # with a type conversion error instead of the message.
    rule = (
        f"self.matches('{DURATION}') && "
        f"duration(self) >= duration('{minimum}') && duration(self) <= duration('{maximum}')"
    )
    return Field(
        description=f"{description} A duration such as 30s, 5m or 1h30m, "
        f"from {minimum} to {maximum}.",
        pattern=DURATION,
        max_length=32,
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(rule, f"must be a duration from {minimum} to {maximum}")
            ]
        },
        **kw,
    )


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


DECIMAL = r"^[0-9]{1,9}(\.[0-9]{1,9})?$"


def decimal_field(description: str, maximum: str, **kw: Any) -> Any:
    """A non-negative decimal as a string (the API conventions allow no floats in spec)."""
    rule = f"double(self) <= {float(maximum)!r}"
    return Field(
        description=f'{description} A decimal string such as "3" or "0.05", at most {maximum}.',
        pattern=DECIMAL,
        max_length=20,
        json_schema_extra={"x-kubernetes-validations": [cel(rule, f"must be at most {maximum}")]},
        **kw,
    )
