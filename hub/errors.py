"""Domain errors raised by services; each boundary (web, REST, TAXII) turns them into its own answer."""
from __future__ import annotations


class HubError(Exception):
    status = 400

    def __init__(self, message: str, details: list | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []


class ValidationFailed(HubError):
    """The input is wrong; `details` says what and where. Nothing was written."""

    status = 422


class NotFound(HubError):
    """Absent, or not readable by the caller: the two are indistinguishable on purpose."""

    status = 404

    def __init__(self, message: str = "not found", details: list | None = None):
        super().__init__(message, details)


class Forbidden(HubError):
    """The caller may read the item (or it is their own) but may not do this to it."""

    status = 403


class Conflict(HubError):
    status = 409
