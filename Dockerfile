# One image for every GridWall process; the command picks the process (gateway, worker, ...).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gridwall ./gridwall
COPY core ./core
COPY domain ./domain
COPY readside ./readside
COPY ingest ./ingest
COPY streams ./streams
COPY wall ./wall
COPY infra ./infra
COPY bench ./bench
COPY config ./config
# A fixed uid: the tokens secret is mounted with its host owner, chown it to 10001.
RUN pip install --no-cache-dir . && useradd --system --uid 10001 gridwall
USER gridwall
ENV GRIDWALL_CONFIG_DIR=/app/config \
    GRIDWALL_GEO_DIR=/app/config/geo \
    GRIDWALL_DATA_DIR=/tmp/gridwall
ENTRYPOINT ["gridwall"]
