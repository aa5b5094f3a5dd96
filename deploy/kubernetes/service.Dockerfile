# spoolwatch service image, from the repository root:
#   docker build -f deploy/kubernetes/service.Dockerfile -t spoolwatch-service .
# No HEALTHCHECK: Kubernetes probes GET /healthz and /readyz (service-deployment.yaml).
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[server]'

FROM python:3.12-slim
# The root filesystem is read-only in the pod: no .pyc files to write, logs unbuffered.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 spoolwatch \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/spoolwatch spoolwatch
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels 'spoolwatch[server]' \
    && rm -rf /wheels
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["spoolwatch", "serve"]
# In a pod the service listens on every address; authentication stays on (tokens).
CMD ["--host", "0.0.0.0", "--port", "8080"]
