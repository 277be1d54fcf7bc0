# One image for every Ladder process; docker-compose.yml picks the command.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md Procfile ./
COPY shared ./shared
COPY services ./services
RUN python -m venv /opt/ladder && /opt/ladder/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 ladder
COPY --from=build /opt/ladder /opt/ladder
COPY Procfile /app/Procfile
WORKDIR /app
ENV PATH=/opt/ladder/bin:$PATH LADDER_VAR_DIR=/app/var LADDER_BIND=0.0.0.0
USER ladder
CMD ["ladder", "--help"]
