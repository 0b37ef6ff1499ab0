"""Short, credential-free messages for what can go wrong between us and Prometheus."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import requests

MAX_BODY_CHARS = 200
AUTH_STATUSES = (401, 403)


def http_error(response: requests.Response) -> str:
    """The message for a non-200 answer: Prometheus' own error when it sent JSON."""
    if response.status_code in AUTH_STATUSES:
        return f"HTTP {response.status_code} from Prometheus (check the credentials)"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("status") == "error":
        return f"query error: {body.get('errorType', 'unknown')}: {body.get('error', '')}"
    text = " ".join(response.text.split())[:MAX_BODY_CHARS]
    return f"HTTP {response.status_code} from Prometheus" + (f": {text}" if text else "")


def transport_error(err: requests.RequestException, address: str, timeout: float) -> str:
    """The message for a request that got no HTTP answer, from the first cause we recognise."""
    for cause in _causes(err):
        message = _describe(cause, address, timeout)
        if message is not None:
            return message
    if isinstance(err, requests.Timeout):
        return f"Prometheus at {address} did not answer within {timeout:g}s"
    return f"Prometheus unreachable at {address}: {type(err).__name__}"


def _describe(cause: BaseException, address: str, timeout: float) -> str | None:
    if isinstance(cause, ssl.SSLCertVerificationError):
        reason = cause.verify_message or str(cause)
        return f"TLS certificate verification failed for Prometheus at {address}: {reason}"
    if isinstance(cause, ssl.SSLError):
        return f"TLS error with Prometheus at {address}: {cause.reason or cause}"
    if isinstance(cause, TimeoutError):  # socket.timeout is an alias since 3.10
        return f"Prometheus at {address} did not answer within {timeout:g}s"
    if isinstance(cause, socket.gaierror):
        return f"Prometheus unreachable at {address}: cannot resolve host ({cause.strerror})"
    if isinstance(cause, OSError) and cause.strerror:  # connection refused, network unreachable
        return f"Prometheus unreachable at {address}: {cause.strerror.lower()}"
    return None


def _causes(err: BaseException) -> Iterator[BaseException]:
    """Every exception in err's chain, innermost last; urllib3 hides causes in .reason and args."""
    seen: set[int] = set()
    stack: list[BaseException] = [err]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += current.args
        stack += [e for e in linked if isinstance(e, BaseException)]
