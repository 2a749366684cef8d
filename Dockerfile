# The image of either service, built from the repository root (BuildKit):
#   docker build --build-arg SERVICE=auth -t auth-service:local .
#   docker build --build-arg SERVICE=orders -t orders-service:local .
# `make images` builds both, from local base images where no registry is reachable
# (PYTHON_IMAGE and UV_IMAGE; the defaults are the official images).
# Two uv steps so the dependency layer is cached until uv.lock or a pyproject changes; the code
# layer is rebuilt on every source change. The final stage has Python and the virtualenv only
# (no uv, no compiler), runs as a non-root user, and execs uvicorn as PID 1 so SIGTERM reaches it.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9
# auth or orders: picks the package, the source, the migrations and the final stage
ARG SERVICE

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# 1. dependencies only: the workspace manifests and the lock, no source yet
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/pyproject.toml
COPY services/auth/pyproject.toml services/auth/pyproject.toml
COPY services/orders/pyproject.toml services/orders/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --package ${SERVICE}-service --no-install-workspace
# 2. the code: servicekit and the service installed as wheels (not editable), so /app/.venv
# stands alone
COPY shared/src shared/src
COPY services/${SERVICE}/src services/${SERVICE}/src
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --package ${SERVICE}-service --no-editable

FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent app
WORKDIR /app
COPY --from=build --chown=root:root /app/.venv /app/.venv
COPY migrations/alembic.ini migrations/alembic.ini
COPY migrations/${SERVICE} migrations/${SERVICE}
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SERVICEKIT_ALEMBIC_INI=/app/migrations/alembic.ini
USER 10001:10001
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"]

# One final stage per service: an exec-form CMD cannot read a build argument, and each service
# reads its own settings prefix. The CMD is the one place the container's command lives (Helm
# and compose use it): `serve` runs uvicorn with create_app under servicekit's graceful-shutdown
# runner: SIGTERM drains (readiness 503, keep serving), then finishes requests in flight and
# exits 0.
FROM runtime AS auth
ENV AUTH_HOST=0.0.0.0 \
    AUTH_PORT=8000
CMD ["auth-service", "serve", "--host", "0.0.0.0", "--port", "8000"]

FROM runtime AS orders
ENV ORDERS_HOST=0.0.0.0 \
    ORDERS_PORT=8000
CMD ["orders-service", "serve", "--host", "0.0.0.0", "--port", "8000"]

# the default target: the stage named by SERVICE
FROM ${SERVICE} AS final
