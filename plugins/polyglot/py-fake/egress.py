"""A small blocking HTTP GET over `wasi:http/outgoing-handler` (the only way out of the sandbox).

The host checks every request against the store's egress policy; a refusal arrives as
wasi:http's `HTTP-request-denied` error code, raised here as `Denied`.
"""

from urllib.parse import urlsplit

from componentize_py_types import Err, Ok
from wit_world.imports import outgoing_handler
from wit_world.imports import wasi_http_types as http
from wit_world.imports.streams import StreamError_Closed

MAX_BODY = 1 << 20


class Denied(Exception):
    """The sandbox's egress policy refused the request."""


class Failed(Exception):
    """The request failed for another reason (a wasi:http error code)."""


def _check(code) -> None:
    if isinstance(code, http.ErrorCode_HttpRequestDenied):
        raise Denied("request denied by the sandbox egress policy")
    raise Failed(f"http error: {type(code).__name__}")


def get(url: str) -> bytes:
    """GETs `url` and returns the body; raises `Denied` or `Failed`."""
    parts = urlsplit(url)
    request = http.OutgoingRequest(http.Fields())
    request.set_method(http.Method_Get())
    request.set_scheme(http.Scheme_Https() if parts.scheme == "https" else http.Scheme_Http())
    request.set_authority(parts.netloc)
    request.set_path_with_query((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    try:
        future = outgoing_handler.handle(request, None)
    except Err as e:
        _check(e.value)
    while (outcome := future.get()) is None:
        future.subscribe().block()
    if isinstance(outcome, Err) or not isinstance(outcome, Ok):
        raise Failed("response already taken")
    if isinstance(outcome.value, Err):
        _check(outcome.value.value)
    response = outcome.value.value
    body = response.consume()
    stream = body.stream()
    data = b""
    while len(data) < MAX_BODY:
        try:
            data += stream.blocking_read(16 * 1024)
        except Err as e:
            if isinstance(e.value, StreamError_Closed):
                break
            raise Failed("reading the response body failed")
    return data
