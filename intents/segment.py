"""Split normalised text into words with jieba and the shop dictionary."""

from __future__ import annotations

import logging
import jieba

from intents.resources import Source, packaged

SHOP_DICT = packaged("scripts_corpus", "shop_dict.txt")

# jieba logs its dictionary loading at INFO on every start; that is noise here.
jieba.setLogLevel(logging.WARNING)


class ShopDictionaryError(ValueError):
    """A line of the shop dictionary cannot be read."""


def read_shop_dictionary(path: Source) -> list[tuple[str, int | None, str | None]]:
    """Parse a jieba user dictionary, naming file and line of a bad entry."""
    entries = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) > 3:
            raise ShopDictionaryError(f"{path}:{lineno}: expected 'word [freq] [tag]', got {raw!r}")
        word, freq, tag = parts[0], None, None
        if len(parts) > 1:
            if not parts[1].isdigit():
                raise ShopDictionaryError(f"{path}:{lineno}: frequency must be a whole number, got {parts[1]!r}")
            freq = int(parts[1])
        if len(parts) > 2:
            tag = parts[2]
        entries.append((word, freq, tag))
    return entries


class Segmenter:
    """A jieba `Tokenizer` of its own, loaded with the shop dictionary.

    One instance is built at start-up and shared; it is cheap to call and safe
    to read from many requests once initialised.
    """

    def __init__(self, dictionary: Source = SHOP_DICT):
        self.dictionary = dictionary
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        for word, freq, tag in read_shop_dictionary(self.dictionary):
            self._tokenizer.add_word(word, freq, tag)

    def segment(self, text: str) -> list[str]:
        """Return the words of `text`, whitespace dropped."""
        return [tok for tok in self._tokenizer.lcut(text) if not tok.isspace()]

    __call__ = segment
