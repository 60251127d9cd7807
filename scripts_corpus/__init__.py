"""Curated data, read through importlib.resources: knowledge points and replies, the draft-check
lexicon, the shop dictionary and the handling guidance. No code lives here."""
