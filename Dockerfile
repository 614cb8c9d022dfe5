# LawVriksh Blog image: one image for the web server (gunicorn) and the worker (db_worker).
#   docker build --build-arg GIT_SHA=$(git rev-parse HEAD) -t blog .
# BASE_IMAGE must provide python3 with venv (the official slim image; tests use a local one).
ARG BASE_IMAGE=python:3.13-slim

# --- builder: every dependency installed into a virtualenv, from wheels ---------------------
FROM ${BASE_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
COPY requirements.txt ./
# wheelhouse/ holds pre-built wheels when the build has no route to PyPI (see its README);
# when it has none, pip downloads from the index as usual.
COPY wheelhouse/ ./wheelhouse/
RUN python3 -m venv /opt/venv \
    && if ls wheelhouse/*.whl >/dev/null 2>&1; then \
         /opt/venv/bin/pip install --no-index --find-links wheelhouse -r requirements.txt; \
       else \
         /opt/venv/bin/pip install -r requirements.txt; \
       fi \
    && /opt/venv/bin/pip uninstall --yes pip \
    && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

# --- runtime: the virtualenv, the code, static files; no compilers, no pip ----------------
FROM ${BASE_IMAGE} AS runtime
ARG GIT_SHA=unknown
ARG APP_VERSION=0.0.0
ARG BUILD_TIME=""
ARG SOURCE_URL=https://gitlab.com/lawvriksh/blog
LABEL org.opencontainers.image.title="LawVriksh Blog" \
      org.opencontainers.image.revision="${GIT_SHA}" \
      org.opencontainers.image.version="${APP_VERSION}" \
      org.opencontainers.image.created="${BUILD_TIME}" \
      org.opencontainers.image.source="${SOURCE_URL}"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PORT=8000 \
    MEDIA_ROOT=/var/lib/lawvriksh/media \
    WORKER_HEARTBEAT_FILE=/tmp/worker-heartbeat \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus-metrics \
    GIT_SHA=${GIT_SHA} \
    APP_VERSION=${APP_VERSION} \
    BUILD_TIME=${BUILD_TIME}
# pg_dump/pg_restore for `manage.py backup` / `restore` and the worker's pre-deploy backups
# (the base's Debian release decides the client's major version, which reads older servers).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && install -d -o app -g app -m 0755 /var/lib/lawvriksh/media
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root . .
# collectstatic needs settings, not secrets: throwaway values that exist only in this layer.
RUN SECRET_KEY="collectstatic-only-$(python3 -c 'import secrets; print(secrets.token_hex(32))')" \
    ALLOWED_HOSTS=build DATABASE_URL=postgres://build@127.0.0.1/build \
    python3 manage.py collectstatic --noinput --verbosity 0 \
    && chmod 0755 docker/entrypoint.sh
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python3", "/app/docker/healthcheck.py"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["gunicorn", "--config", "/app/docker/gunicorn.conf.py", "config.wsgi:application"]
