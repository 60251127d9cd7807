"""The HTTP edge: the FastAPI app, its routers, request and response models, errors, limits, keys and pages."""
