"""The `huashu` command: serve the API, build and evaluate the models, QA reports and retention.

The commands that build or evaluate models import `intents.build` (the `[build]` extra) when they run;
`huashu serve` never does.
"""

from service.cli import models, ops, shop  # noqa: F401 - each module registers its commands
from service.cli.common import app

__all__ = ["app"]
