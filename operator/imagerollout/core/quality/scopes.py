"""Judge per capability: a capability's strata decide it, the other strata the general promotion.

Each gate is judged once per scope, on that scope's strata only: the general scope keeps the
gate's name (`text`, `text/plain-scenes`), a capability's copy is prefixed with the capability
(`typography.text`, `typography.text/logos`). Gate names are DNS labels, so a "." never clashes
with a user's gate. Every copy is a gate of its own in the Fail budget, so the false-rollback
rate over all scopes stays within alpha. Without capabilities nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from imagerollout.api.capabilities import Capability, CapabilityTarget
from imagerollout.api.v1alpha1 import Gate
from imagerollout.core.judge import GateResult, Outcome, Verdict, judge
from imagerollout.core.quality.cells import cell_gate, stratum_cell

SEPARATOR = "."


@dataclass(frozen=True)
class Scope:
    capability: str  # "" for the general scope
    strata: frozenset[str]


@dataclass(frozen=True)
class Scopes:
    """The judged capabilities (a specialist Service's jobs never reach the canary: none)."""

    judged: tuple[Scope, ...] = ()
    excluded: frozenset[str] = frozenset()  # strata of specialist capabilities
    pinnable: frozenset[str] = frozenset()  # a Fail of these pins them instead of rolling back

    @staticmethod
    def of(capabilities: Iterable[Capability], pinnable: Iterable[str] = ()) -> Scopes:
        judged, excluded = [], set()
        for capability in capabilities:
            if capability.target == CapabilityTarget.SERVICE:
                excluded.update(capability.strata)
            else:
                judged.append(Scope(capability.name, frozenset(capability.strata)))
        names = {s.capability for s in judged}
        return Scopes(tuple(judged), frozenset(excluded), frozenset(pinnable) & names)

    def gates(self, gates: Sequence[Gate], strata: Sequence[str]) -> list[Gate]:
        """The gates to record and judge: each gate once per scope it has strata in."""
        if not self.judged and not self.excluded:
            return list(gates)
        taken = self.excluded.union(*(s.strata for s in self.judged))
        general = Scope("", frozenset(strata) - taken)
        return [
            scoped
            for scope in (general, *self.judged)
            for gate in gates
            if (scoped := _scoped(gate, scope, strata)) is not None
        ]

    def unknown_strata(self, strata: Sequence[str]) -> list[str]:
        """Strata a capability lists that the suite does not have: it could never be judged."""
        listed = self.excluded.union(*(s.strata for s in self.judged))
        return sorted(listed - set(strata))

    def outcome(self, results: Sequence[GateResult], samples: int, max_samples: int) -> Outcome:
        """The rollout's outcome: a Fail of a pinnable capability pins it instead of rolling
        back, and its other results no longer hold the promotion."""
        pinned = self.pinnable & set(self.failures(results))
        kept = [r for r in results if scope_of(r.gate) not in pinned]
        return judge(kept, samples, max_samples)

    def failures(self, results: Sequence[GateResult]) -> dict[str, GateResult]:
        """Per failing capability, its most specific failing result (a stratum's cell first)."""
        failed: dict[str, GateResult] = {}
        for result in sorted(results, key=lambda r: not stratum_cell(r.gate)):
            scope = scope_of(result.gate)
            if scope and result.verdict == Verdict.FAIL and scope not in failed:
                failed[scope] = result
        return failed


def scope_of(name: str) -> str:
    """The capability a result belongs to; "" for the general scope."""
    gate = cell_gate(name)
    return gate.split(SEPARATOR, 1)[0] if SEPARATOR in gate else ""


def unscoped(name: str) -> str:
    """The result's name as the user wrote the gate: typography.text/logos -> text/logos."""
    return name.split(SEPARATOR, 1)[1] if scope_of(name) else name


def told(result: GateResult) -> str:
    """`text/logos failed: canary 0.25 vs baseline 0.95`, for status and events."""
    return (
        f"{unscoped(result.gate)} failed: canary {result.canary:.2f} "
        f"vs baseline {result.baseline:.2f}"
    )


def _scoped(gate: Gate, scope: Scope, strata: Sequence[str]) -> Gate | None:
    fed = [s for s in (gate.strata or strata) if s in scope.strata]
    if not fed:
        return None
    name = f"{scope.capability}{SEPARATOR}{gate.name}" if scope.capability else gate.name
    # model_copy skips validation: the scoped name is not a DNS label on purpose.
    return gate.model_copy(update={"name": name, "strata": fed})
