# The Causeway operator image: the `causeway` command and its runtime dependencies
# (kopf, boto3, pydantic, prometheus-client; never the sandbox extra or dev tools),
# installed from uv.lock, run as a non-root numeric user.
#
#   docker build -t REGISTRY/causeway:0.1.0 .
#   docker push REGISTRY/causeway:0.1.0
#
# The Helm chart runs `causeway run --log-format json --liveness … --metrics-address …`.

ARG PYTHON_IMAGE=python:3.11.14-slim-trixie

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-editable --no-install-project
# Then Causeway itself, built as a wheel (hatchling; seeds/ travels inside it).
COPY README.md LICENSE ./
COPY operator/ operator/
COPY seeds/ seeds/
RUN uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="causeway" \
      org.opencontainers.image.description="Kubernetes operator for managed, private AWS PrivateLink connections for multi-tenant platforms" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /app/.venv /app/.venv
# HOME: the numeric user has no passwd entry; /tmp is the pod's writable emptyDir.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp
WORKDIR /tmp
USER 65532:65532
ENTRYPOINT ["causeway"]
CMD ["run"]
