# syntax=docker/dockerfile:1
# Build stage: a wheel of the operator and its pinned dependencies.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY operator ./operator
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt .

# Runtime stage: no source tree, numeric non-root user.
FROM python:3.11-slim
ENV PYTHONSAFEPATH=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels imagerollout && rm -rf /wheels
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["imagerollout", "run", "--liveness", "http://0.0.0.0:8080/healthz"]
