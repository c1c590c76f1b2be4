"""Errors the runtime maps to HTTP 4xx answers (never 5xx for bad input)."""

from __future__ import annotations


class RequestError(ValueError):
    """A request the server refuses; ``status`` is the HTTP status of the answer."""

    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidInput(RequestError):
    """The body cannot be turned into model input (malformed CSV, wrong feature count, ...)."""

    status = 400


class UnsupportedMediaType(RequestError):
    status = 415


class NotAcceptable(RequestError):
    status = 406


class PayloadTooLarge(RequestError):
    status = 413
