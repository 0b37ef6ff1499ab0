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
DECIMAL = r"^[0-9]{1,9}(\.[0-9]{1,9})?$"


def lit(text: str) -> str:
    """`text` as a CEL string literal (raw, so that a regex keeps its backslashes)."""
    if "'" in text:
        raise ValueError(f"no single quotes in CEL literals: {text}")
    return f"r'{text}'" if "\\" in text else f"'{text}'"


def cel(
    rule: str, message: str, expression: str | None = None, field_path: str | None = None
) -> JsonDict:
    """A CEL rule. `expression` (a CEL string expression, `messageExpression`) shows what the
    user wrote; `message` is the fallback should it fail. `field_path` points the error at a
    field below the object the rule is on."""
    out: JsonDict = {"rule": rule, "message": message}
    if expression is not None:
        out["messageExpression"] = expression
    if field_path is not None:
        out["fieldPath"] = field_path
    return out


def quoted(expression: str) -> str:
    """A CEL string expression that shows the value of `expression` in double quotes."""
    return f"'\"' + {expression} + '\"'"


def exactly_one(fields: Sequence[str], message: str) -> JsonDict:
    """A CEL rule: exactly one of the optional fields is set; the message names those set."""
    present = ", ".join(f"has(self.{name})" for name in fields)
    # String concatenation, not a list and join(): its estimated cost fits the CRD's budget.
    got = " + ".join(f"(has(self.{name}) ? ', {name}' : '')" for name in fields)
    shown = f"({got} == '' ? 'none' : ({got}).substring(2))"
    return cel(f"[{present}].filter(set, set).size() == 1", message, f"'{message}, got ' + {shown}")


# On a list of gates: each name appears once.
UNIQUE_NAMES = cel(
    "self.all(g, self.exists_one(h, h.name == g.name))",
    "gate names must be unique",
    "'gate names must be unique: %s used more than once'.format("
    "[self.filter(g, !self.exists_one(h, h.name == g.name)).map(g, g.name)])",
)


def not_blank(what: str) -> JsonDict:
    """A CEL rule on a string: it holds more than whitespace."""
    return cel(
        "self.trim() != ''",
        f"{what} must not be empty",
        f"'{what} must not be empty, got ' + {quoted('self')}",
    )


def duration_field(description: str, minimum: str, maximum: str, **kw: Any) -> Any:
    """A Go-style duration string ("30s", "5m", "1h30m") bounded by CEL."""
    # The matches() guard keeps "10d" or "soon" from reaching duration(), which would fail
    # with a type conversion error instead of the message.
    rule = (
        f"self.matches({lit(DURATION)}) && "
        f"duration(self) >= duration('{minimum}') && duration(self) <= duration('{maximum}')"
    )
    message = f"must be a duration from {minimum} to {maximum}"
    return Field(
        description=f"{description} A duration such as 30s, 5m or 1h30m, "
        f"from {minimum} to {maximum}.",
        pattern=DURATION,
        max_length=32,
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(rule, message, f"'{message}, got ' + {quoted('self')}")
            ]
        },
        **kw,
    )


def url_has_host(field: str, example: str) -> JsonDict:
    """A CEL rule on a URL string: it parses, and it names a host."""
    return cel(
        "isURL(self) && url(self).getHostname() != ''",
        f"{field} must be an http(s) URL with a host",
        f"'{field} ' + {quoted('self')} + ' must be an http(s) URL with a host, such as {example}'",
    )


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


def decimal_field(description: str, maximum: str, positive: bool = False, **kw: Any) -> Any:
    """A non-negative decimal as a string (the API conventions allow no floats in spec);
    `positive`: 0 is refused too."""
    # The matches() guard leaves a malformed value to the pattern, whose message shows it;
    # double() of it would fail with a type conversion error instead.
    bound = f"double(self) <= {float(maximum)!r}"
    message = f"must be at most {maximum}"
    if positive:
        bound = f"double(self) > 0.0 && {bound}"
        message = f"must be greater than 0 and at most {maximum}"
    rule = f"!self.matches({lit(DECIMAL)}) || ({bound})"
    return Field(
        description=f'{description} A decimal string such as "3" or "0.05", '
        f"{'above 0 and ' if positive else ''}at most {maximum}.",
        pattern=DECIMAL,
        max_length=20,
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(rule, message, f"'{message}, got ' + {quoted('self')}")
            ]
        },
        **kw,
    )
