"""POST a JSON body and report the status code: shared by the notifiers and the gate webhooks.

Redirects are not followed (an allowed URL cannot bounce the operator elsewhere) and the reply
body is not read beyond a short excerpt for the error message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError

_HTTP = urllib3.PoolManager(num_pools=16, maxsize=4, retries=False)
_EXCERPT = 200


@dataclass(frozen=True)
class Reply:
    status: int | None  # None: no answer (refused, timed out, ...)
    error: str | None  # why it is not a 2xx, in one short line

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post_json(
    url: str,
    body: Mapping[str, Any],
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    data = json.dumps(body, ensure_ascii=False, allow_nan=False).encode()
    try:
        reply = _HTTP.request(
            "POST",
            url,
            body=data,
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=urllib3.Timeout(total=timeout_s),
            redirect=False,
            preload_content=False,
        )
    except HTTPError as error:
        return Reply(None, f"no answer from {_origin(url)}: {type(error).__name__}")
    try:
        excerpt = reply.read(_EXCERPT, decode_content=False).decode(errors="replace")
    except HTTPError:
        excerpt = ""
    finally:
        reply.close()  # the rest of the body is never read, so the connection is not reused
    if 200 <= reply.status < 300:
        return Reply(reply.status, None)
    detail = " ".join(excerpt.split())[:_EXCERPT]
    why = f"HTTP {reply.status} from {_origin(url)}"
    return Reply(reply.status, f"{why}: {detail}" if detail else why)


def _origin(url: str) -> str:
    """The URL without its path and query: webhook paths often carry the secret (Slack)."""
    parsed = urllib3.util.parse_url(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"
