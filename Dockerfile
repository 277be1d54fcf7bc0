# One image for every Ladder process; each docker-compose service runs
# `ladder start NAME` with a process name from the Procfile.

# The base of both stages. `make compose-test` gives a Debian one it builds itself
# (tests/compose/run); there Python 3.11 comes from Debian's packages.
ARG BASE=python:3.11-slim

# Build: the dependencies exactly as requirements-runtime.lock pins them (each checked
# against its hashes), then the package without resolving anything, into a virtualenv,
# once. That lock holds the versions requirements.lock (what the tests ran) pins, without
# the dev tools.
FROM ${BASE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Only for builds that need them (the compose test's): a CA bundle for pip, copied into
# the context as .pip-build-ca.pem and named by its path here, and another index.
ARG PIP_CERT=
ARG PIP_INDEX_URL=
WORKDIR /src
RUN command -v python3.11 >/dev/null || { apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       python3.11 python3.11-venv \
    && rm -rf /var/lib/apt/lists/*; }
RUN python3.11 -m venv /opt/ladder
COPY requirements-runtime.lock pyproject.toml README.md .pip-build-ca.pem* ./
COPY shared ./shared
COPY services ./services
RUN [ -n "$PIP_CERT" ] || unset PIP_CERT; [ -n "$PIP_INDEX_URL" ] || unset PIP_INDEX_URL; \
    /opt/ladder/bin/pip install --require-hashes --no-deps -r requirements-runtime.lock \
    && /opt/ladder/bin/pip install --no-deps .

# Run: the virtualenv and the Procfile, no compilers, no source tree, not root.
FROM ${BASE}
RUN command -v python3.11 >/dev/null || { apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3.11 \
    && rm -rf /var/lib/apt/lists/*; }
# Pango and a font, for the dashboard's PDF report (WeasyPrint: services/ledger/report.py).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 ladder \
    && useradd --system --uid 10001 --gid ladder --home-dir /app --shell /usr/sbin/nologin ladder
COPY --from=build /opt/ladder /opt/ladder
WORKDIR /app
COPY Procfile ./
# var/metrics is a volume the ledger API and its worker share; it starts owned by ladder.
RUN mkdir -p var/metrics && chown -R ladder:ladder var
ENV PATH=/opt/ladder/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LADDER_VAR_DIR=/app/var \
    LADDER_BIND=0.0.0.0
USER ladder
EXPOSE 8000 8001 8002 8003
CMD ["ladder", "--help"]
