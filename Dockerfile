# sources-bot: install the bot into a virtual env in one stage, run it as a non-root user in another.
# Lint: hadolint Dockerfile (CI does). The command line and environment are described in
# README.md, "Run in production"; tests/test_production.py keeps the two in step.

FROM python:3.12-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir .

FROM python:3.12-slim
RUN groupadd --system --gid 10001 sources-bot \
    && useradd --system --uid 10001 --gid sources-bot --create-home --home-dir /app \
       --shell /usr/sbin/nologin sources-bot
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PORT=3000 \
    LOG_FORMAT=json
WORKDIR /app
USER 10001:10001
EXPOSE 3000
# Liveness without curl: the image's own Python asks /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '3000') + '/healthz', timeout=4)"]
CMD ["sources-bot", "serve"]
