"""Domain errors the stages raise; `service.api.errors` turns each into one JSON HTTP answer."""


class ServiceError(Exception):
    """Base of the errors the service reports to clients."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotReady(ServiceError):
    """The models are not loaded (yet, or they failed to load)."""


class NotFound(ServiceError):
    """A referenced id (request, reply) does not exist."""


class Conflict(ServiceError):
    """The request contradicts what is stored (a duplicate id)."""


class InvalidReply(ServiceError):
    """A shop reply breaks the corpus rules (unknown intent, bad template, …)."""


class Unprocessable(ServiceError):
    """The body is well-formed but refers to things that do not belong together."""


class StoreUnavailable(ServiceError):
    """The store cannot record the request now (read-only, full, busy): nothing was written."""


class TimedOut(ServiceError):
    """The request's work ran past its deadline and was stopped."""
