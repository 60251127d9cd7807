# huashu: the reply-suggestion service, with its models built into the image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1

WORKDIR /app
RUN useradd --create-home --uid 10001 huashu

# Dependencies first, from pyproject.toml and constraints.txt alone, so code
# changes reuse this layer. torch comes first from the CPU wheel index: the
# default wheel for Linux is a multi-GB CUDA build this service never uses.
COPY pyproject.toml constraints.txt ./
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -c constraints.txt -r /tmp/requirements.txt

# The code and data, then the models, built at image build time.
COPY . .
RUN pip install --no-deps -e . \
 && huashu train \
 && mkdir -p /app/data \
 && chown -R huashu:huashu /app/models /app/data

USER huashu
ENV HUASHU_HOST=0.0.0.0 \
    HUASHU_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
CMD ["huashu", "serve"]
