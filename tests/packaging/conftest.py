"""The cluster fixtures of tests/e2e, for the packaging tests that need the control plane."""

from tests.e2e.conftest import cluster, crd, namespace

__all__ = ["cluster", "crd", "namespace"]
