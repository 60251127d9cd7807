"""Curated data the service reads: the shop dictionary (and, later, the reply corpus)."""

from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent
SHOP_DICT = CORPUS_DIR / "shop_dict.txt"
