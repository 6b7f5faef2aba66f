# A Dagster code location serving veerkracht over gRPC (the way data engineers deploy it).
#
#   docker build -t veerkracht .
#   docker run -p 4000:4000 -v veerkracht-data:/data veerkracht
#
# then point a Dagster webserver/daemon at it with workspace.yaml (grpc_server, port 4000). The
# package is installed non-editable: sql/, methods/, the embedded snapshot and dagster.yaml are
# package data; outputs go to VEERKRACHT_OUTPUT_DIR (a volume).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 \
    VEERKRACHT_OUTPUT_DIR=/data/out DAGSTER_HOME=/data/dagster_home

WORKDIR /src
COPY pyproject.toml constraints.txt README.md LICENSE dagster.yaml ./
COPY veerkracht veerkracht
COPY assets assets
COPY pipelines pipelines
COPY sql sql
COPY methods methods
COPY data/embedded data/embedded
RUN pip install -c constraints.txt . && rm -rf /src \
    && mkdir -p /data/dagster_home && python -c "import shutil, veerkracht.paths as p; \
shutil.copy(p.DAGSTER_YAML, '/data/dagster_home/dagster.yaml')"

WORKDIR /data
EXPOSE 4000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "pipelines.definitions"]
