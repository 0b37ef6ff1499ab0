"""Build argocd/argocd-cm-patch.yaml from the Lua files (a test keeps the checked-in copy equal).

.venv/bin/python -m tests.packaging.argocd_cm > argocd/argocd-cm-patch.yaml
"""

from __future__ import annotations

from typing import Any

import yaml

from tests.packaging.argocd_lua import ACTIONS, CUSTOMIZATION, REPO_ROOT

PATCH_FILE = REPO_ROOT / "argocd" / "argocd-cm-patch.yaml"
KEY = "imagerollout.dev_ImageModelRollout"
HEADER = """\
# Registers the ImageModelRollout health check and actions with Argo CD (1.8 or later):
#   kubectl -n argocd patch cm argocd-cm --type merge --patch-file argocd/argocd-cm-patch.yaml
# Generated from argocd/resource_customizations/imagerollout.dev/ImageModelRollout by
#   .venv/bin/python -m tests.packaging.argocd_cm > argocd/argocd-cm-patch.yaml
# (tests/packaging/test_argocd.py fails when this file and the Lua sources differ).
"""


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=1000)


def action_names() -> list[str]:
    return sorted(p.name for p in ACTIONS.iterdir() if (p / "action.lua").is_file())


def render() -> str:
    actions = {
        "discovery.lua": _Literal((ACTIONS / "discovery.lua").read_text()),
        "definitions": [
            {"name": name, "action.lua": _Literal((ACTIONS / name / "action.lua").read_text())}
            for name in action_names()
        ],
    }
    patch = {
        "data": {
            f"resource.customizations.health.{KEY}": _Literal(
                (CUSTOMIZATION / "health.lua").read_text()
            ),
            f"resource.customizations.actions.{KEY}": _Literal(_dump(actions)),
        }
    }
    return HEADER + _dump(patch)


if __name__ == "__main__":
    print(render(), end="")
