"""What the reading's speed-ups do, as Prometheus metrics: cache hits and misses, encoder batch sizes.

Plain prometheus-client objects in the default registry; with several worker processes `huashu serve`
sets PROMETHEUS_MULTIPROC_DIR before anything is imported, and GET /metrics adds up every process.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CACHE_LOOKUPS = Counter(
    "huashu_cache_lookups_total", "Lookups in the reading's caches (embeddings, model probabilities), by result.",
    ["cache", "result"],
)
ENCODER_BATCH = Histogram(
    "huashu_encoder_batch_texts", "Texts per sentence-encoder call of the micro-batcher.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)


def cache_lookups(cache: str, hits: int, misses: int) -> None:
    if hits:
        CACHE_LOOKUPS.labels(cache, "hit").inc(hits)
    if misses:
        CACHE_LOOKUPS.labels(cache, "miss").inc(misses)
