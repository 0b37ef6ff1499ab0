"""Gate webhook calls in the background: the decision asks (CallWebhook), a worker POSTs, and a
later pass observes the answer. A slow or dead receiver so never holds the reconcile loop.

Only URLs on the operator's endpoint allowlist are called, as for the model endpoints; a
refused URL is answered at once with `refused`, which the decision shows as InvalidSpec.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from imagerollout.api.notifications import Webhook
from imagerollout.controller.sampler.registry import endpoint_allowlist
from imagerollout.core.durations import parse_duration
from imagerollout.core.observations import WebhookReply
from imagerollout.core.rollout.actions import CallWebhook
from imagerollout.providers.post import Reply, post_json
from imagerollout.quality.endpoint import check_allowed

MIN_GAP_SECONDS = 5.0  # between two calls of one hook: a waiting rollout asks every 5 s
Post = Callable[[str, Mapping[str, Any], float], Reply]


@dataclass
class _Hook:
    attempt: str
    reply: WebhookReply | None = None
    calling: bool = False
    called_at: float | None = None


class WebhookCalls:
    def __init__(
        self,
        post: Post = post_json,
        allowlist: Callable[[], list[str]] = endpoint_allowlist,
        clock: Callable[[], float] = time.monotonic,
        workers: int = 4,
    ) -> None:
        self._post, self._allowlist, self._clock = post, allowlist, clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook")
        self._hooks: dict[tuple[str, str], _Hook] = {}  # (namespace/name, hook) -> state
        self._lock = threading.Lock()

    def replies(self, rollout: str) -> dict[str, WebhookReply]:
        """The latest answer of each hook of the rollout (each names its attempt)."""
        with self._lock:
            return {
                hook: state.reply
                for (key, hook), state in self._hooks.items()
                if key == rollout and state.reply is not None
            }

    def call(self, rollout: str, hook: Webhook, action: CallWebhook) -> None:
        """POST unless a call is in flight or was made less than MIN_GAP_SECONDS ago."""
        namespace, name = rollout.split("/")
        with self._lock:
            state = self._hooks.get((rollout, hook.name))
            if state is None or state.attempt != action.attempt:
                state = self._hooks[(rollout, hook.name)] = _Hook(action.attempt)
            now = self._clock()
            recent = state.called_at is not None and now - state.called_at < MIN_GAP_SECONDS
            if state.calling or recent:
                return
            try:
                check_allowed(hook.url, self._allowlist())
            except ValueError as error:
                state.reply = WebhookReply(action.attempt, None, str(error), refused=True)
                return
            state.calling, state.called_at = True, now
        body = {"name": name, "namespace": namespace, **action.body}
        timeout = parse_duration(hook.timeout).total_seconds()
        self._pool.submit(self._run, state, hook.url, body, timeout)

    def _run(self, state: _Hook, url: str, body: dict[str, Any], timeout: float) -> None:
        try:
            reply = self._post(url, body, timeout)
            answer = WebhookReply(state.attempt, reply.status, reply.error)
        except Exception as error:  # a worker must never die silently
            answer = WebhookReply(state.attempt, None, f"call failed: {type(error).__name__}")
        with self._lock:
            state.reply, state.calling = answer, False

    def forget(self, rollout: str) -> None:
        with self._lock:
            for key in [k for k in self._hooks if k[0] == rollout]:
                del self._hooks[key]

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
