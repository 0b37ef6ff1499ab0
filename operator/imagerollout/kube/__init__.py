"""The one module that talks to the Kubernetes API (see client.py)."""
