"""The pure decision core: data in, decisions out. No kopf, Kubernetes or HTTP imports."""
