# syntax=docker/dockerfile:1
# imagerollout operator image. Two stages: wheels are built from the source tree in `build`; the
# runtime stage installs only those wheels into a virtual environment (no source tree, no pip
# cache, no compilers) and runs as a numeric non-root user.

# --- build: wheels of the operator and of every pinned dependency -----------------------------
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY operator ./operator
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt . \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels -c constraints.txt rapidocr-onnxruntime

# --- runtime ------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="imagerollout" \
      org.opencontainers.image.description="Kubernetes operator: canary rollouts of image-generation models"
# Tesseract (with its English model) for the OCR quality gate; pinned to Debian bookworm's build.
# A passwd entry for the numeric user: kopf names itself after it (getpass.getuser()) unless
# POD_ID is set, as the Helm chart does.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr=5.3.0-2 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 65532 imagerollout \
    && useradd --system --uid 65532 --gid 65532 --home-dir /tmp --no-create-home \
       --shell /usr/sbin/nologin imagerollout
# The wheels are bind-mounted from the build stage, so they never land in a layer.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/imagerollout \
    && /opt/imagerollout/bin/pip install --no-cache-dir --no-index --find-links /wheels /wheels/imagerollout-*.whl \
    && /opt/imagerollout/bin/pip install --no-cache-dir --no-index --no-deps /wheels/rapidocr_onnxruntime-*.whl
# PYTHONSAFEPATH: never import from the working directory. OMP_THREAD_LIMIT=1: one Tesseract
# thread per process (OpenMP oversubscription makes OCR many times slower).
ENV PATH=/opt/imagerollout/bin:$PATH \
    PYTHONSAFEPATH=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OMP_THREAD_LIMIT=1 \
    HOME=/tmp
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080
ENTRYPOINT ["imagerollout"]
CMD ["run", "--liveness", "http://0.0.0.0:8080/healthz"]
