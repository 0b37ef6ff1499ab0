"""PrometheusProvider: instant queries over the Prometheus HTTP API (prometheus-api-client)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import weakref
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from requests.auth import HTTPBasicAuth
from urllib3.util.retry import Retry

from imagerollout.providers.metrics.auth import PrometheusAuth, auth_from_secret_data
from imagerollout.providers.metrics.prometheus_errors import http_error, transport_error
from imagerollout.providers.metrics.provider import MetricQueryError, ProviderUnreachableError

__all__ = ["PrometheusAuth", "PrometheusProvider", "auth_from_secret_data"]

# One quick retry when the connection could not be made (nothing was sent, so it is safe);
# none on read timeouts or error statuses, so a pass waits at most about two timeouts.
RETRY = Retry(total=1, connect=1, read=0, status=0, other=0, backoff_factor=0.1)


class PrometheusProvider:
    """A MetricProvider for one Prometheus; TLS is always verified (system CAs or ca_bundle)."""

    def __init__(
        self, address: str, timeout: float = 10.0, auth: PrometheusAuth | None = None
    ) -> None:
        self.address = _checked_address(address)
        self.timeout = timeout
        auth = auth or PrometheusAuth()
        self._ca_file = _write_ca_file(auth.ca_bundle) if auth.ca_bundle else None
        # Removes the CA file even if close() is never called.
        self._cleanup = weakref.finalize(self, _remove, self._ca_file)
        self._client = PrometheusConnect(
            url=self.address,
            headers={"Authorization": f"Bearer {auth.token}"} if auth.token else {},
            retry=RETRY,
            session=self._session(auth),
            timeout=timeout,  # type: ignore[arg-type]  # requests takes float seconds
        )

    @property
    def ca_file(self) -> str | None:
        """The private file TLS verifies against, None for the system CAs; gone after close()."""
        return self._ca_file

    def _session(self, auth: PrometheusAuth) -> requests.Session:
        session = requests.Session()
        session.verify = self._ca_file or True
        # Only what this provider was given: no proxy, CA bundle or .netrc from the environment.
        session.trust_env = False
        if auth.username is not None and auth.password is not None:
            # Bytes, as UTF-8: requests would encode str as Latin-1 and fail on other letters.
            session.auth = HTTPBasicAuth(auth.username.encode(), auth.password.encode())
        session.hooks["response"].append(_raise_for_status)
        return session

    def query(self, promql: str, at: datetime) -> float | None:
        if at.tzinfo is None:
            raise ValueError("query time must be timezone-aware")
        # Seconds as a plain number: Prometheus durations reject fractions like "2.5s".
        params = {"time": f"{at.timestamp():.3f}", "timeout": f"{self.timeout:g}"}
        try:
            result = self._client.custom_query(promql, params=params)
        except MetricQueryError:
            raise
        except requests.exceptions.InvalidJSONError:
            raise MetricQueryError(f"Prometheus at {self.address} did not answer JSON") from None
        except requests.RequestException as err:
            raise ProviderUnreachableError(
                transport_error(err, self.address, self.timeout)
            ) from None
        except (PrometheusApiClientException, KeyError, TypeError) as err:
            message = f"unexpected answer from Prometheus at {self.address}: {type(err).__name__}"
            raise MetricQueryError(message) from None
        return value_of(result)

    def close(self) -> None:
        self._client.close()
        self._cleanup()

    def __enter__(self) -> PrometheusProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def value_of(result: Any) -> float | None:
    """The number in a query result: `[ts, "v"]` for a scalar, a list of series for a vector."""
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        return _number(result[1])
    if not isinstance(result, list):
        raise MetricQueryError("unexpected answer from Prometheus: result is not a list")
    if not result:
        return None
    if len(result) > 1:
        raise MetricQueryError(
            f"query returned {len(result)} series; the template must aggregate to one "
            "series, e.g. with sum()"
        )
    series = result[0]
    if "value" not in series:
        raise MetricQueryError("query returned a range vector; use an instant query")
    return _number(series["value"][1])


def _number(text: Any) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise MetricQueryError(f"query returned {str(text)[:50]!r}, not a number") from None
    return value


def _raise_for_status(response: requests.Response, *args: object, **kwargs: object) -> None:
    # A response hook, because the library raises a bare "HTTP Status Code" with the raw body.
    if response.status_code != 200 and not response.is_redirect:
        raise MetricQueryError(http_error(response))


def _checked_address(address: str) -> str:
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Prometheus address must be an http(s) URL, got {address!r}")
    if parts.username is not None or parts.password is not None:
        # Credentials in the URL would leak into every error message.
        raise ValueError("Prometheus address must not carry credentials; use the auth secret")
    return address.rstrip("/")


def _write_ca_file(bundle: bytes) -> str:
    """The CA bundle in a file only we can read: requests verifies against a path."""
    fd, path = tempfile.mkstemp(prefix="imagerollout-prometheus-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as file:
        file.write(bundle)
    return path


def _remove(path: str | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
