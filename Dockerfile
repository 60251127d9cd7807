# huashu: the reply-suggestion service. Two stages: the first installs the [build] extra (torch, onnx,
# transformers, sentence-transformers) and builds the models; the second runs them without torch.

# ---- build: the models and the wheel ----------------------------------------------------------------
FROM python:3.11-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1

WORKDIR /src

# Dependencies first, from pyproject.toml and constraints.txt alone, so code changes reuse this layer.
# torch comes first from the CPU wheel index: the default wheel for Linux is a multi-GB CUDA build.
COPY pyproject.toml constraints.txt ./
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['build']))" > /tmp/requirements.txt \
 && pip install -c constraints.txt -r /tmp/requirements.txt

COPY . .
RUN pip install --no-deps . \
 && huashu build-encoder \
 && huashu train \
 && pip wheel --no-deps --wheel-dir /wheels .

# ---- runtime: the wheel and the built models, no torch ------------------------------------------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 10001 huashu
COPY constraints.txt /tmp/constraints.txt
COPY --from=build /wheels /wheels
RUN pip install -c /tmp/constraints.txt /wheels/*.whl && rm -rf /wheels
COPY --from=build --chown=huashu:huashu /src/models /app/models
RUN mkdir -p /app/data && chown huashu:huashu /app/data

USER huashu
ENV HUASHU_HOST=0.0.0.0 \
    HUASHU_PORT=8000 \
    HUASHU_MODEL_DIR=/app/models \
    HUASHU_DB_PATH=/app/data/huashu.db
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
CMD ["huashu", "serve"]
