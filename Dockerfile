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
VOLUME ["/data"]
ENV DATABASE_URL=sqlite:////data/etl.db

ENTRYPOINT ["etl"]
CMD ["--help"]
