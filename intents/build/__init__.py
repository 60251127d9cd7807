"""Model building: the ONNX and sentence-transformers encoders, training, evaluation and the labelled data.

Needs the `[build]` extra (torch, onnx, transformers, sentence-transformers). The server never imports
this package; `huashu train`, `huashu build-encoder`, `huashu evaluate` and `make serve` (for missing
models) do.
"""
