"""Which EndpointSlice endpoints count as ready scorer URLs."""

from __future__ import annotations

from kubernetes import client

from imagerollout.kube.endpoint_slices import ready_urls


def endpoint(address: str, ready: bool | None) -> client.V1Endpoint:
    conditions = client.V1EndpointConditions(ready=ready)
    return client.V1Endpoint(addresses=[address], conditions=conditions)


def test_ready_and_unknown_count_not_ready_does_not() -> None:
    slice_ = client.V1EndpointSlice(
        address_type="IPv4",
        endpoints=[
            endpoint("10.0.0.1", True),
            endpoint("10.0.0.2", None),
            endpoint("10.0.0.3", False),
        ],
        ports=[client.DiscoveryV1EndpointPort(name="http", port=8090)],
    )
    assert ready_urls(slice_, None) == ["http://10.0.0.1:8090", "http://10.0.0.2:8090"]


def test_the_named_port_and_ipv6() -> None:
    slice_ = client.V1EndpointSlice(
        address_type="IPv6",
        endpoints=[endpoint("fd00::1", True)],
        ports=[
            client.DiscoveryV1EndpointPort(name="metrics", port=9102),
            client.DiscoveryV1EndpointPort(name="http", port=8090),
        ],
    )
    assert ready_urls(slice_, "http") == ["http://[fd00::1]:8090"]
    assert ready_urls(slice_, "grpc") == []
