"""auth_from_secret_data: a Secret's base64 `.data` to PrometheusAuth, as pure functions."""

from __future__ import annotations

import base64

import pytest

from imagerollout.providers.metrics.auth import PrometheusAuth, auth_from_secret_data

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def b64(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode()


def test_a_bearer_token() -> None:
    assert auth_from_secret_data({"token": b64("abc.def")}) == PrometheusAuth(token="abc.def")


def test_basic_auth_with_a_ca_bundle() -> None:
    data = {"username": b64("reader"), "password": b64("pä ss"), "ca.crt": b64(PEM)}
    assert auth_from_secret_data(data) == PrometheusAuth(
        username="reader", password="pä ss", ca_bundle=PEM
    )


def test_a_ca_bundle_alone_means_tls_without_credentials() -> None:
    assert auth_from_secret_data({"ca.crt": b64(PEM)}) == PrometheusAuth(ca_bundle=PEM)


def test_the_trailing_newline_of_a_file_based_secret_is_dropped() -> None:
    data = {"username": b64("reader\n"), "password": b64("secret\r\n")}
    assert auth_from_secret_data(data) == PrometheusAuth(username="reader", password="secret")


def test_other_keys_are_ignored() -> None:
    assert auth_from_secret_data({"token": b64("t"), "note": b64("hi")}) == PrometheusAuth(
        token="t"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "none of the keys token, username, password, ca.crt"),
        ({"other": b64("x")}, "none of the keys"),
        ({"token": b64("t"), "username": b64("u"), "password": b64("p")}, "not both"),
        ({"username": b64("u")}, "username and password together"),
        ({"password": b64("p")}, "username and password together"),
        ({"token": "not base64!"}, "token is not valid base64"),
        ({"ca.crt": "%%%"}, "ca.crt is not valid base64"),
        ({"token": b64("")}, "token is empty"),
        ({"token": b64(b"\xff\xfe")}, "token is not UTF-8"),
        ({"token": b64("two words")}, "token contains spaces or control characters"),
        ({"token": b64("a\nb")}, "token contains spaces or control characters"),
        ({"username": b64("a:b"), "password": b64("p")}, "username contains ':'"),
        ({"ca.crt": b64("just text")}, "ca.crt is not a PEM certificate bundle"),
    ],
)
def test_a_bad_secret_is_refused_with_a_clear_message(data: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        auth_from_secret_data(data)


def test_errors_and_repr_never_show_the_secrets() -> None:
    with pytest.raises(ValueError, match="not both") as info:
        auth_from_secret_data({"token": b64("tok-42"), "username": b64("u"), "password": b64("p")})
    assert "tok-42" not in str(info.value)
    shown = repr(PrometheusAuth(token="tok-42", username="u", password="pw-42"))
    assert "tok-42" not in shown
    assert "pw-42" not in shown
    assert "'u'" in shown
