# The console's image: one image for the web server, the Celery worker and celery beat
# (docker/entrypoint picks the role). Built by `docker compose up --build`.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so that a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .

# A user of its own; /data (the DATA_DIR volume: static files, the generated secret key,
# celery beat's schedule) belongs to it, and a new named volume takes this ownership.
RUN useradd --system --uid 1000 --home-dir /app --shell /usr/sbin/nologin console \
    && mkdir -p /data \
    && chown console:console /data \
    && chmod +x docker/entrypoint
USER console

EXPOSE 8000
ENTRYPOINT ["/app/docker/entrypoint"]
CMD ["web"]
