# syntax=docker/dockerfile:1
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 etl && mkdir -p /app /data && chown etl:etl /data
WORKDIR /app

# Dependencies first, in their own layer: source edits do not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# The project itself, installed the way the README says (`pip install .`).
COPY etl ./etl
COPY jobs ./jobs
COPY schema.sql ./
RUN pip install --no-deps .

USER etl
WORKDIR /data
# The SQLite database lives in the volume (and `etl chart` writes its picture there).
# For PostgreSQL, set DATABASE_URL=postgresql+psycopg://… instead.
VOLUME ["/data"]
ENV DATABASE_URL=sqlite:////data/etl.db
EXPOSE 8000

# /healthz needs no key and answers 503 when the database is unreachable; urlopen
# raises on any non-2xx answer, so the exit code is the verdict.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1

# `docker stop` sends SIGTERM and waits 10 s: the daemon finishes or abandons the
# running job within ETL_SHUTDOWN_GRACE (8 s) and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["etl"]
# The scheduled jobs (sync + recompute hourly, reconcile nightly, prune weekly) and
# the API in one process. Plain HTTP from outside the container is refused unless a
# TLS proxy sets X-Forwarded-Proto: https, or ETL_REQUIRE_HTTPS=false is set.
CMD ["daemon", "--serve", "--host", "0.0.0.0", "--port", "8000"]
