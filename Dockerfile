# Imperium's image: `docker build -t imperium .` (see the README's Deployment section).
# Stage 1 builds the wheel; stage 2 is python:3.11-slim with the wheel, its extras and a
# non-root user. Nothing here was built on the machines this repository is developed on
# (no Docker engine there): it is checked with hadolint in `make test`.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
# The Ray nodes run this same image (they import imperium and the agents' code), and Ray
# Client (IMPERIUM_RAY_ADDRESS=ray://host:10001) needs the same Ray version (and Python
# minor version) on both sides: set RAY_VERSION to the Ray the cluster runs.
ARG RAY_VERSION=2.60.0
ARG EXTRAS=all,ray
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite+aiosqlite:////var/lib/imperium/imperium.db
RUN groupadd --system --gid 10001 imperium \
    && useradd --system --uid 10001 --gid imperium --home-dir /var/lib/imperium \
       --shell /usr/sbin/nologin imperium \
    && install -d -o imperium -g imperium -m 0750 /var/lib/imperium /var/lib/imperium/artefacts
COPY --from=build /wheels /wheels
RUN whl="$(ls /wheels/imperium-*.whl)" \
    && pip install --no-cache-dir "imperium[${EXTRAS}] @ file://${whl}" "ray[default,client]==${RAY_VERSION}" \
    && rm -rf /wheels
COPY deploy/docker/healthcheck.py /usr/local/lib/imperium/healthcheck.py
USER 10001:10001
WORKDIR /var/lib/imperium
VOLUME ["/var/lib/imperium"]
EXPOSE 8000
# Ready = /api/health answers 200 (scheduler running, database answering). A standby
# (`serve --standby`) opens no port until it holds the lock: override with --alive there.
HEALTHCHECK --interval=15s --timeout=6s --start-period=30s --retries=3 \
    CMD ["python", "/usr/local/lib/imperium/healthcheck.py"]
ENTRYPOINT ["imperium"]
# 0.0.0.0 requires an API key to exist: see the README (imperium keys create).
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
