"""Provider errors: what the host turns into ESO conditions, metrics and backoff.

Every constructor returns a `componentize_py_types.Err` carrying the WIT `provider-error` case;
raise it from an export (`raise not_found(f"secret {key}")`). componentize-py hands a raised `Err`
to the host as the function's error result. Any other exception escaping an export traps the
instance: wrap exports with `guarded` so they become `internal` errors instead.

`not_found` is special: it drives the ExternalSecret's `deletionPolicy`, so use it only when the
backend said the secret does not exist, never for "could not ask".

Never put secret values into a message: the host logs messages and shows them in status.
"""

import functools
from typing import Callable, Optional, TypeVar

from componentize_py_types import Err
from wit_world.imports import ampoule_provider_types as t

F = TypeVar("F", bound=Callable)

# How much of a backend's error body an error message may quote.
BODY_SNIPPET = 200


def not_found(message: str) -> Err:
    """The secret (or property) does not exist; drives `deletionPolicy`."""
    return Err(t.ProviderError_NotFound(message))


def unauthorized(message: str) -> Err:
    """The backend refused the credentials (HTTP 401)."""
    return Err(t.ProviderError_Unauthorized(message))


def forbidden(message: str) -> Err:
    """The credentials are valid but not allowed (HTTP 403), or the sandbox refused the egress."""
    return Err(t.ProviderError_Forbidden(message))


def invalid_config(message: str) -> Err:
    """The store's config is wrong; the host does not retry until the store's spec changes."""
    return Err(t.ProviderError_InvalidConfig(message))


def rate_limited(message: str, retry_after_secs: Optional[int] = None) -> Err:
    """The backend asked to slow down; the host waits `retry_after_secs` when given."""
    return Err(t.ProviderError_RateLimited(t.RateLimit(message, retry_after_secs)))


def unavailable(message: str) -> Err:
    """Transient: the host retries with backoff."""
    return Err(t.ProviderError_Unavailable(message))


def internal(message: str) -> Err:
    """A bug or an answer the plugin cannot understand."""
    return Err(t.ProviderError_Internal(message))


_KINDS = {
    t.ProviderError_NotFound: "not-found",
    t.ProviderError_Unauthorized: "unauthorized",
    t.ProviderError_Forbidden: "forbidden",
    t.ProviderError_InvalidConfig: "invalid-config",
    t.ProviderError_RateLimited: "rate-limited",
    t.ProviderError_Unavailable: "unavailable",
    t.ProviderError_Internal: "internal",
}


def kind(error: Err) -> str:
    """The WIT name of an error's case (`not-found`, `rate-limited`, ...), e.g. for tests."""
    return _KINDS.get(type(error.value), "unknown")


def message(error: Err) -> str:
    """The message an error carries."""
    value = error.value
    if isinstance(value, t.ProviderError_RateLimited):
        return value.value.message
    return str(getattr(value, "value", ""))


def _snippet(body: bytes) -> str:
    text = bytes(body[: BODY_SNIPPET * 4]).decode("utf-8", "replace")
    text = " ".join(text.split())
    return text[:BODY_SNIPPET] + ("..." if len(text) > BODY_SNIPPET else "")


def error_from_status(
    status: int, body: bytes = b"", retry_after: Optional[int] = None, context: str = ""
) -> Err:
    """Maps a non-success HTTP status from a backend to the error the host understands:
    401 unauthorized, 403 forbidden, 404 not-found, 429 rate-limited (with `retry_after`, the
    `Retry-After` header in seconds), other 4xx internal (the plugin asked wrongly), anything else
    (5xx, unexpected 1xx/3xx) unavailable. The message names `context`, the status and the start of
    `body` (a backend's error text; keep bodies that may hold secrets out)."""
    text = f"{context}: HTTP {status}" if context else f"HTTP {status}"
    quoted = _snippet(body) if body else ""
    if quoted:
        text = f"{text}: {quoted}"
    if status == 401:
        return unauthorized(text)
    if status == 403:
        return forbidden(text)
    if status == 404:
        return not_found(text)
    if status == 429:
        return rate_limited(text, retry_after)
    if 400 <= status < 500:
        return internal(text)
    return unavailable(text)


def guarded(method: F) -> F:
    """Decorates an export: a raised `Err` passes through, any other exception becomes an
    `internal` error naming its type and message (an exception escaping an export would trap the
    instance and fail the whole reconcile with a less useful message)."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except Err:
            raise
        except Exception as e:  # noqa: BLE001 - the point of the wrapper
            raise internal(f"{type(e).__name__}: {e}") from None

    return wrapper  # type: ignore[return-value]
