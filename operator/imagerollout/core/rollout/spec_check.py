"""Checks of the spec that the API server's CEL rules cannot make: PromQL syntax.

The CRD already refuses unknown template variables, empty queries and bad bucket bounds at
admission. What is left needs the query rendered and scanned: a value that may only be used
inside quotes, an unterminated string, unbalanced brackets, a malformed `{{variable}}`. A
gate with such a query can never see data, and with the default Hold policy it would wait
forever; decide() sets InvalidSpec instead, before any traffic moves.
"""

from __future__ import annotations

from imagerollout.api.metric_gates import MetricGate
from imagerollout.api.v1alpha1 import RolloutSpec
from imagerollout.core.metrics.promql import (
    VARIABLE,
    TemplateError,
    arm_variables,
    gate_queries,
)

# Stand-ins for the values a real pass renders with: plain tokens, as the real ones are.
_SAMPLE = arm_variables("default", "rollout", "rollout-canary", "canary", 30)
_OPENING = {")": "(", "]": "[", "}": "{"}


def spec_problem(spec: RolloutSpec) -> str | None:
    """The first problem found, naming the field, or None."""
    if spec.metrics is None:
        return None
    for index, gate in enumerate(spec.metrics.gates):
        problem = _gate_problem(gate)
        if problem is not None:
            return f"spec.metrics.gates[{index}] ({gate.name}): {problem}"
    return None


def _gate_problem(gate: MetricGate) -> str | None:
    try:
        gate_queries(gate, _SAMPLE)  # renders every query, as a real pass does
    except TemplateError as error:
        return str(error)
    written = (
        ("query", gate.query),
        ("errorsQuery", gate.errors_query),
        ("countQuery", gate.count_query),
    )
    for field, query in written:
        if query is None:
            continue
        # Variables rendered fine; blanked out at the same length, columns stay the user's.
        problem = promql_problem(VARIABLE.sub(lambda m: "_" * len(m.group(0)), query))
        if problem is not None:
            return f"{field} {query!r}: {problem}"
    return None


def promql_problem(query: str) -> str | None:
    """What makes a query unparseable, as far as a scan can tell; None if nothing.

    Not a PromQL parser: it finds what a typo most often leaves behind, outside string
    literals and comments: an unbalanced bracket and a `{{` that was not a variable.
    """
    if not query.strip():
        return "the query is empty"
    stack: list[tuple[str, int]] = []
    quote: str | None = None
    i = 0
    while i < len(query):
        char = query[i]
        if quote is not None:
            if char == "\\" and quote != "`":
                i += 2
                continue
            if char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char == "#":  # a comment runs to the end of the line
            end = query.find("\n", i)
            i = len(query) if end < 0 else end
            continue
        elif query.startswith("{{", i):
            return f"{{{{ at column {i + 1} is not a template variable such as {{{{namespace}}}}"
        elif char in "([{":
            stack.append((char, i))
        elif char in ")]}":
            if not stack or stack[-1][0] != _OPENING[char]:
                return f"unexpected {char!r} at column {i + 1}"
            stack.pop()
        i += 1
    if quote is not None:
        return f"unterminated string literal ({quote})"
    if stack:
        char, at = stack[-1]
        return f"{char!r} at column {at + 1} is never closed"
    return None
