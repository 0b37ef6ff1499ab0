"""PrometheusProvider through authentication: a real Prometheus with basic auth over TLS
(--web.config.file), and a bearer-token proxy in front of the plain one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import bcrypt
import pytest
import yaml

from imagerollout.providers.metrics import MetricQueryError
from imagerollout.providers.metrics.prometheus import PrometheusAuth, PrometheusProvider
from tests.prometheus_server import PrometheusServer
from tests.providers.metrics.bearer_proxy import bearer_proxy
from tests.providers.metrics.pki import ServerCert, make_ca, make_server_cert

USER, PASSWORD, TOKEN = "gate-reader", "s3cret-pässword", "tok-123"


def query(address: str, auth: PrometheusAuth | None) -> float | None:
    with PrometheusProvider(address, timeout=5, auth=auth) as provider:
        return provider.query("vector(7)", datetime.now(UTC))


def web_config(directory: Path, cert: ServerCert) -> Path:
    # Cost 4, the minimum: Prometheus checks the hash on each request, and this is a test.
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    path = directory / "web.yml"
    tls = {"cert_file": str(cert.cert), "key_file": str(cert.key)}
    path.write_text(yaml.safe_dump({"tls_server_config": tls, "basic_auth_users": {USER: hashed}}))
    return path


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> ServerCert:
    return make_server_cert(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secure(
    tmp_path_factory: pytest.TempPathFactory, certs: ServerCert
) -> Iterator[PrometheusServer]:
    workdir = tmp_path_factory.mktemp("secure-prometheus")
    server = PrometheusServer(
        workdir,
        web_config=web_config(workdir, certs),
        ca_file=certs.ca,
        basic_auth=(USER, PASSWORD),
    )
    server.start()
    yield server
    server.stop()


def basic(password: str, ca: Path | None) -> PrometheusAuth:
    return PrometheusAuth(
        username=USER, password=password, ca_bundle=ca.read_bytes() if ca else None
    )


def test_basic_auth_over_tls_with_the_ca_bundle(
    secure: PrometheusServer, certs: ServerCert
) -> None:
    assert secure.url.startswith("https://")
    assert query(secure.url, basic(PASSWORD, certs.ca)) == 7.0


@pytest.mark.parametrize(
    ("username", "password"), [(USER, "wrong-pw-9f2c"), (None, None)], ids=["wrong", "none"]
)
def test_a_wrong_or_missing_password_gets_401(
    secure: PrometheusServer, certs: ServerCert, username: str | None, password: str | None
) -> None:
    auth = PrometheusAuth(username=username, password=password, ca_bundle=certs.ca.read_bytes())
    with pytest.raises(MetricQueryError, match=r"^HTTP 401 from Prometheus") as info:
        query(secure.url, auth)
    assert "wrong-pw-9f2c" not in str(info.value)


def test_a_server_cert_from_another_ca_fails_verification(
    secure: PrometheusServer, tmp_path: Path
) -> None:
    other_ca, _ = make_ca(tmp_path, "other")
    with pytest.raises(MetricQueryError, match="TLS certificate verification failed"):
        query(secure.url, basic(PASSWORD, other_ca))


def test_without_a_ca_bundle_the_system_cas_still_verify(secure: PrometheusServer) -> None:
    with pytest.raises(MetricQueryError, match="TLS certificate verification failed"):
        query(secure.url, basic(PASSWORD, None))


@pytest.fixture(scope="module")
def bearer_url(prometheus: PrometheusServer) -> Iterator[str]:
    with bearer_proxy(prometheus.url, TOKEN) as url:
        yield url


def test_the_right_bearer_token_gets_the_value(bearer_url: str) -> None:
    assert query(bearer_url, PrometheusAuth(token=TOKEN)) == 7.0


@pytest.mark.parametrize("token", ["wrong-token-7d1e", None], ids=["wrong", "none"])
def test_a_wrong_or_missing_bearer_token_gets_401(bearer_url: str, token: str | None) -> None:
    with pytest.raises(MetricQueryError, match=r"^HTTP 401 from Prometheus") as info:
        query(bearer_url, PrometheusAuth(token=token))
    assert "wrong-token-7d1e" not in str(info.value)
