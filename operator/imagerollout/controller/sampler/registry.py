"""The samplers of this operator process, one per rollout and canary revision."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from imagerollout.api.v1alpha1 import Analysis, RolloutStatus
from imagerollout.controller.sampler.runner import Sampler, SamplerConfig
from imagerollout.core.observations import AnalysisObservation
from imagerollout.core.quality.analysis import NO_SCOPES, AnalysisState
from imagerollout.core.quality.scopes import Scopes
from imagerollout.quality.endpoint import check_allowed
from imagerollout.quality.evidence import EvidenceStore
from imagerollout.quality.scorer import Scorer
from imagerollout.quality.suite import Suite

ALLOWLIST_ENV = "IMAGEROLLOUT_ENDPOINT_ALLOWLIST"


def endpoint_allowlist() -> list[str]:
    """Explicit endpoint URLs must match one of these fnmatch patterns (operator config)."""
    return [p.strip() for p in os.environ.get(ALLOWLIST_ENV, "").split(",") if p.strip()]


@dataclass(frozen=True)
class Arms:
    baseline_url: str
    canary_url: str
    # (stratum, URL): a pinned capability's strata are judged against the model that serves
    # its jobs (the fallback), not against the stable model that failed them.
    pinned: tuple[tuple[str, str], ...] = ()


def resolve_arms(analysis: Analysis, default: Arms, explicit_pins: Iterable[str] = ()) -> Arms:
    """Default to the in-cluster Services; explicit URLs only from the allowlist."""
    explicit = analysis.endpoints
    allowlist = endpoint_allowlist()
    urls = []
    for chosen, fallback in (
        (explicit.baseline, default.baseline_url),
        (explicit.canary, default.canary_url),
    ):
        if chosen is None:
            urls.append(fallback)
            continue
        check_allowed(chosen.url, allowlist)
        urls.append(chosen.url)
    for url in explicit_pins:  # capabilities' fallbackEndpoint URLs
        check_allowed(url, allowlist)
    return Arms(urls[0], urls[1], default.pinned)


class SamplerRegistry:
    def __init__(self, scorer: Scorer, per_engine: Callable[[str], Scorer] | None = None) -> None:
        self._scorer = scorer
        self._per_engine = per_engine  # in-process: a scorer per spec.analysis.ocr.engine
        self._samplers: dict[str, Sampler] = {}
        self._lock = threading.Lock()

    def observe(
        self,
        rollout: str,
        attempt: str,
        analysis: Analysis,
        suite: Suite,
        arms: Arms,
        status: RolloutStatus,
        scopes: Scopes = NO_SCOPES,
    ) -> AnalysisObservation:
        key = f"{rollout}/{attempt}"
        with self._lock:
            sampler = self._samplers.get(rollout)
            wanted = (key, scopes, arms.pinned)
            if sampler is None or sampler.config.identity() != wanted:
                if sampler is not None:
                    sampler.stop()
                state = _resume(status, attempt)
                sampler = self._start(key, analysis, suite, arms, state, scopes)
                self._samplers[rollout] = sampler
        limit = analysis.max_samples * (2 if status.analysis and status.analysis.extended else 1)
        sampler.set_max_samples(limit)
        return AnalysisObservation(
            state=sampler.state,
            strata=sampler.strata,
            evidence=sampler.evidence_dir,
        )

    def _start(
        self,
        key: str,
        analysis: Analysis,
        suite: Suite,
        arms: Arms,
        state: AnalysisState,
        scopes: Scopes,
    ) -> Sampler:
        store = EvidenceStore(Path(analysis.evidence.path), analysis.evidence.retain_rollouts)
        urls = (arms.baseline_url, arms.canary_url)
        config = SamplerConfig(key, analysis, suite, *urls, store, scopes, arms.pinned)
        engine = self._per_engine
        sampler = Sampler(config, state, engine(analysis.ocr.engine) if engine else self._scorer)
        sampler.start()
        return sampler

    def stop(self, rollout: str) -> None:
        with self._lock:
            sampler = self._samplers.pop(rollout, None)
        if sampler is not None:
            sampler.stop()

    def stop_all(self) -> None:
        """Leadership lost: the next leader resumes every sampler from status."""
        with self._lock:
            samplers, self._samplers = list(self._samplers.values()), {}
        for sampler in samplers:
            sampler.stop()

    def running(self) -> list[str]:
        with self._lock:
            return sorted(self._samplers)


def _resume(status: RolloutStatus, attempt: str) -> AnalysisState:
    """A restart picks up the statistics in status, for the same rollout attempt only."""
    if status.canary is None or status.analysis is None:
        return AnalysisState()
    if attempt != f"{status.canary.revision}@{status.rollout_started_at}":
        return AnalysisState()
    return AnalysisState.from_json(status.analysis.state)
