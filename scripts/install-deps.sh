#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine: system packages (as root, when
# missing) and the Python virtual environment pinned by constraints.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
packages=(openssl curl util-linux tesseract-ocr lua5.1 fonts-dejavu-core fonts-liberation2 prometheus chromium)  # chromium: the report e2e test
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[deps] apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
for tool in go kubectl python3; do
  command -v "$tool" >/dev/null || { echo "[deps] $tool is required but missing" >&2; exit 1; }
done
if [ ! -x "$root/.venv/bin/python" ]; then
  echo "[deps] creating .venv"
  python3 -m venv "$root/.venv"
fi
stamp="$root/.venv/.installed"
if [ ! -f "$stamp" ] || [ "$root/constraints.txt" -nt "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  echo "[deps] installing Python dependencies (constraints.txt)"
  "$root/.venv/bin/pip" install -q --upgrade pip
  "$root/.venv/bin/pip" install -q -c "$root/constraints.txt" -e "$root[dev]"
  # RapidOCR asks for opencv-python (the GUI build, which needs libGL); its dependencies come
  # with the project above, headless, so the package itself goes in without its own.
  "$root/.venv/bin/pip" install -q -c "$root/constraints.txt" --no-deps rapidocr-onnxruntime
  touch "$stamp"
fi
"$root/scripts/build-helm.sh" >/dev/null  # helm for the chart tests (built once from its Go module, then cached)
"$root/scripts/build-argocd-lua.sh" >/dev/null  # Argo CD's Lua VM for the resource customization tests (built once, then cached)
