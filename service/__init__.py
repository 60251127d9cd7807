"""The huashu HTTP service: FastAPI app, configuration, routes and CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("huashu")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
