# One image for every aqm process (ingest, worker, migrate, reports); the command picks the role.
FROM python:3.12-slim-bookworm AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --all-extras --no-install-project
COPY aqm_core aqm_core
COPY aqm aqm
COPY aqi aqi
COPY ingest ingest
COPY stations stations
COPY storage storage
COPY worker worker
COPY reports reports
COPY dashboards dashboards
COPY forward forward
COPY qaqc qaqc
COPY web web
COPY opendata opendata
RUN uv sync --frozen --no-dev --all-extras

FROM python:3.12-slim-bookworm
RUN useradd --system --uid 10001 --home /app aqm
# A named volume mounted here starts with this owner: the worker writes the open data.
RUN install -d -o aqm -g aqm /var/lib/aqm/opendata
COPY --from=build --chown=aqm:aqm /app /app
WORKDIR /app
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 AQM_TIMEZONE=Asia/Ho_Chi_Minh
USER aqm
ENTRYPOINT ["aqm"]
CMD ["--help"]
