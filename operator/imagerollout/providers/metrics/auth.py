"""Credentials for Prometheus, read from a Kubernetes Secret's `.data`."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass

TOKEN, USERNAME, PASSWORD, CA = "token", "username", "password", "ca.crt"
KNOWN_KEYS = (TOKEN, USERNAME, PASSWORD, CA)
PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class PrometheusAuth:
    """Bearer token or basic auth (not both), and a PEM CA bundle to verify the server with."""

    token: str | None = None
    username: str | None = None
    password: str | None = None
    ca_bundle: bytes | None = None

    def __repr__(self) -> str:
        # The dataclass repr would print the token and password into logs and tracebacks.
        return (
            f"PrometheusAuth(token={'***' if self.token else None}, "
            f"username={self.username!r}, password={'***' if self.password else None}, "
            f"ca_bundle={'<PEM>' if self.ca_bundle else None})"
        )


def auth_from_secret_data(data: Mapping[str, str]) -> PrometheusAuth:
    """Keys `token` (bearer), `username` + `password` (basic), `ca.crt` (PEM CA bundle).

    Raises ValueError naming the key at fault (never its value).
    """
    if not any(key in data for key in KNOWN_KEYS):
        raise ValueError(f"secret has none of the keys {', '.join(KNOWN_KEYS)}")
    token, username, password = (_text(data, key) for key in (TOKEN, USERNAME, PASSWORD))
    _check_credentials(token, username, password)
    ca_bundle = _decoded(data, CA)
    if ca_bundle is not None and PEM_CERTIFICATE not in ca_bundle:
        raise ValueError(f"secret key {CA} is not a PEM certificate bundle")
    return PrometheusAuth(token=token, username=username, password=password, ca_bundle=ca_bundle)


def _check_credentials(token: str | None, username: str | None, password: str | None) -> None:
    if token is not None and username is not None:
        raise ValueError("secret sets both token and username: use bearer or basic auth, not both")
    if (username is None) != (password is None):
        raise ValueError("secret must set username and password together")
    # Fail here, by key name, rather than later with a vague header error from requests.
    if token is not None and (" " in token or not token.isprintable()):
        raise ValueError("secret key token contains spaces or control characters")
    if username is not None and ":" in username:
        raise ValueError("secret key username contains ':', which basic auth cannot carry")


def _decoded(data: Mapping[str, str], key: str) -> bytes | None:
    if key not in data:
        return None
    try:
        value = base64.b64decode(data[key], validate=True)
    except (ValueError, TypeError):  # binascii.Error is a ValueError
        raise ValueError(f"secret key {key} is not valid base64") from None
    if not value.strip():
        raise ValueError(f"secret key {key} is empty")
    return value


def _text(data: Mapping[str, str], key: str) -> str | None:
    """UTF-8 text without the trailing newline that `kubectl create secret --from-file` keeps."""
    value = _decoded(data, key)
    if value is None:
        return None
    try:
        return value.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ValueError(f"secret key {key} is not UTF-8 text") from None
