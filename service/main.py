"""The ASGI application object for uvicorn (`service.main:app`)."""

from service.api.app import create_app

app = create_app()
