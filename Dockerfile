# The hub image: one image for the web (gunicorn), the Celery worker and beat, and migrations.
# docker-compose.yml picks the command; configuration comes from the environment (README.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HUB_CONFIG=production \
    HUB_INSTANCE_DIR=/app/instance

WORKDIR /app
# A home of its own: gunicorn keeps its control socket there.
RUN useradd --system --uid 10001 --create-home --home-dir /home/hub --shell /usr/sbin/nologin hub

# Dependencies first, so a code change does not reinstall them.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
# Editable, so the code (and migrations/ beside it) stays in /app and `hub` is on PATH.
RUN pip install --no-deps -e . \
    && mkdir -p /app/instance /var/lib/hub/evidence \
    && chown -R hub /app/instance /var/lib/hub/evidence && chmod 700 /var/lib/hub/evidence

USER hub
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "hub:create_app('production')"]
