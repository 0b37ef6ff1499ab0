"""A sampler thread per rollout: probe both arms in batches, score, record, judge, repeat.

It stops by itself at the first Rollback (fail fast) or at maxSamples; the reconcile pass
reads its statistics and the pure core decides. Its state is seeded from status on start.
"""

from __future__ import annotations

import itertools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from imagerollout.api.v1alpha1 import Analysis
from imagerollout.controller.sampler.scoring import ScoredPair, score_pairs
from imagerollout.core.judge import GateResult, Outcome
from imagerollout.core.quality.analysis import (
    NO_SCOPES,
    AnalysisState,
    StratumInfo,
    evaluate,
    judged_gates,
    record,
)
from imagerollout.core.quality.cells import cell_gate
from imagerollout.core.quality.gates import effect_limit
from imagerollout.core.quality.scopes import Scopes
from imagerollout.quality.endpoint import Generation, ImagesClient
from imagerollout.quality.evidence import EvidenceStore, JsonValue
from imagerollout.quality.scorer import Scorer
from imagerollout.quality.suite import Probe, Suite, plan

log = logging.getLogger(__name__)
IDLE_SECONDS = 0.5


@dataclass(frozen=True)
class SamplerConfig:
    key: str  # namespace/name/revision: one sampler per canary revision
    analysis: Analysis
    suite: Suite
    baseline_url: str
    canary_url: str
    evidence: EvidenceStore | None
    scopes: Scopes = NO_SCOPES  # capabilities judged apart (core/quality/scopes.py)
    stratum_baselines: tuple[tuple[str, str], ...] = ()  # (stratum, URL) of a pinned model

    def identity(self) -> tuple[str, Scopes, tuple[tuple[str, str], ...]]:
        """What a running sampler must match to go on (else it is restarted)."""
        return self.key, self.scopes, self.stratum_baselines

    def pinned_urls(self) -> list[str]:
        return sorted({url for _, url in self.stratum_baselines})


def trajectory_row(
    result: GateResult, limit: float | None, plan_index: int
) -> dict[str, JsonValue]:
    return {
        "planIndex": plan_index,  # a sampler resumed before it drops the row (forget_from)
        "samples": result.samples,
        "gate": result.gate,
        "verdict": result.verdict.value,
        "effect": result.effect,
        "lower": result.lower,
        "upper": result.upper,
        "limit": limit,
    }


def strata_of(suite: Suite) -> tuple[StratumInfo, ...]:
    return tuple(
        StratumInfo(s.name, any(p.expected_text for p in s.prompts), s.min_samples)
        for s in suite.strata
    )


class Sampler:
    def __init__(self, config: SamplerConfig, state: AnalysisState, scorer: Scorer) -> None:
        self.config = config
        self.strata = strata_of(config.suite)
        self._state = state
        self._max_samples = config.analysis.max_samples
        self._gates = judged_gates(config.analysis, self.strata, config.scopes)
        self._scorer = scorer
        # Which client makes a stratum's baseline image: a pinned model's (after the two arms).
        pinned = config.pinned_urls()
        self._baseline_client = {s: 2 + pinned.index(u) for s, u in config.stratum_baselines}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sampler {config.key}", daemon=True)

    @property
    def evidence_dir(self) -> str | None:
        store = self.config.evidence
        return str(store.rollout_dir(self.config.key)) if store else None

    def start(self) -> None:
        store = self.config.evidence
        if store is not None:  # a sampler whose progress was never saved left these
            store.forget_from(self.config.key, self.state.plan_index)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    @property
    def state(self) -> AnalysisState:
        with self._lock:
            return self._state

    def set_max_samples(self, limit: int) -> None:
        self._max_samples = limit

    def clients(self) -> list[ImagesClient]:
        """The baseline's and the canary's, then one per pinned model (pinned_urls order)."""
        parameters = self.config.suite.parameters
        urls = [self.config.baseline_url, self.config.canary_url, *self.config.pinned_urls()]
        return [ImagesClient(url, parameters=parameters) for url in urls]

    def _baseline(self, probe: Probe, clients: list[ImagesClient]) -> ImagesClient:
        return clients[self._baseline_client.get(probe.stratum, 0)]

    def pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=2 * self.config.analysis.stage0.batch_size)

    def _run(self) -> None:
        clients = self.clients()
        with self.pool() as pool:
            while not self._stop.is_set():
                if self.done():
                    self._stop.wait(IDLE_SECONDS)
                    continue
                try:
                    self.run_batch(pool, clients)
                except Exception:  # a sampler bug must not take the operator down
                    log.exception("sampler %s: batch failed", self.config.key)
                    self._stop.wait(IDLE_SECONDS)
        for client in clients:
            client.close()

    def done(self) -> bool:
        state = self.state
        if state.samples >= self._max_samples:
            return True
        _, outcome = evaluate(
            self.config.analysis, state, self.strata, self._max_samples, self.config.scopes
        )
        return outcome == Outcome.ROLLBACK

    def run_batch(self, pool: ThreadPoolExecutor, clients: list[ImagesClient]) -> None:
        """Probe one batch of pairs; public so the judge command can drive it in the foreground."""
        size = self.config.analysis.size
        start = self.state.plan_index
        probes = list(
            itertools.islice(plan(self.config.suite, start, self.config.key), self._batch_size())
        )
        futures = [
            (
                pool.submit(self._baseline(p, clients).generate, p.prompt, p.seed, size),
                pool.submit(clients[1].generate, p.prompt, p.seed, size),
            )
            for p in probes
        ]
        generations = [(b.result(), c.result()) for b, c in futures]
        price = float(self.config.analysis.gpu_second_price)
        scored = score_pairs(probes, generations, self._scorer, price)
        for index, (probe, arms, pair) in enumerate(zip(probes, generations, scored, strict=True)):
            if self._stop.is_set():
                return  # stopped (leadership lost, rollout done): the next sampler redoes these
            self._keep_evidence(start + index, probe, arms, pair)
            with self._lock:
                self._state = record(self._state, self._gates, pair.pair)
            if self.done():
                break  # fail fast: the rest of the batch is not needed
        self._keep_trajectory()

    def _keep_trajectory(self) -> None:
        """Each gate's bounds now, for the report's plot of bounds against pairs."""
        store = self.config.evidence
        if store is None:
            return
        state = self.state
        results, _ = evaluate(
            self.config.analysis, state, self.strata, self._max_samples, self.config.scopes
        )
        limits = {g.name: effect_limit(g) for g in self._gates}
        rows = [trajectory_row(r, limits.get(cell_gate(r.gate)), state.plan_index) for r in results]
        try:
            store.append_trajectory(self.config.key, rows)
        except OSError as error:
            log.warning("sampler %s: trajectory not stored: %s", self.config.key, error)

    def _batch_size(self) -> int:
        remaining = self._max_samples - self.state.samples
        return max(1, min(self.config.analysis.stage0.batch_size, remaining))

    def _keep_evidence(
        self, index: int, probe: Probe, arms: tuple[Generation, Generation], pair: ScoredPair
    ) -> None:
        store = self.config.evidence
        if store is None:
            return
        for arm, generation, text, scores in (
            ("baseline", arms[0], pair.texts[0], pair.pair.baseline),
            ("canary", arms[1], pair.texts[1], pair.pair.canary),
        ):
            try:
                store.store(
                    self.config.key, probe, arm, generation, text, vars(scores), index=index
                )
            except OSError as error:  # a full disk must not stop the judging
                log.warning("sampler %s: evidence not stored: %s", self.config.key, error)
