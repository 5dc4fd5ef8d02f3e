"""A small blocking HTTP client over `wasi:http/outgoing-handler` (WASI 0.2), the only way out of
the sandbox. Python's own `urllib`/`http.client` need sockets, which the sandbox does not give.

The host checks every request against the store's egress grant; a refusal raises `Denied`.
Redirects are never followed (a 3xx is returned as is). `HttpError.provider_error()` gives the
error to raise from an export; `Response.error()` maps a non-success status.

    resp = http.get(url, headers={"authorization": f"Bearer {token}"})
    if not resp.ok:
        raise resp.error("acme")
    data = resp.json()
"""

import json
from dataclasses import dataclass, field
from urllib.parse import quote
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from componentize_py_types import Err, Ok
from wit_world.imports import outgoing_handler
from wit_world.imports import wasi_http_types as wh
from wit_world.imports.streams import StreamError_Closed, StreamError_LastOperationFailed

from .errors import error_from_status, forbidden, invalid_config, unavailable

# Bodies larger than this are refused by the client (the host has its own, usually lower, cap).
MAX_BODY = 16 << 20
_CHUNK = 4096

HeaderValue = Union[str, bytes]
Headers = Union[Mapping[str, HeaderValue], Sequence[Tuple[str, HeaderValue]]]


class HttpError(Exception):
    """A request that got no response."""

    def provider_error(self) -> Err:
        return unavailable(str(self))


class Denied(HttpError):
    """The sandbox's egress policy refused the request (the operator's log names the rule)."""

    def __init__(self) -> None:
        super().__init__("request denied by the sandbox egress policy")

    def provider_error(self) -> Err:
        return forbidden(str(self))


class InvalidUrl(HttpError):
    """The URL (or a header) could not be used."""

    def provider_error(self) -> Err:
        return invalid_config(str(self))


class TooLarge(HttpError):
    """The response body exceeded a cap."""


class Timeout(HttpError):
    """The connection or the response timed out."""


class Transport(HttpError):
    """Any other transport failure, with wasi:http's error code."""


@dataclass
class Response:
    status: int
    headers: List[Tuple[str, bytes]] = field(default_factory=list)
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str) -> Optional[bytes]:
        """The first value of a header (names compare case-insensitively)."""
        name = name.lower()
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return None

    def retry_after(self) -> Optional[int]:
        """`Retry-After` in seconds, when present and numeric."""
        value = self.header("retry-after")
        if value is None:
            return None
        try:
            secs = int(value.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            return None
        return secs if secs >= 0 else None

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises `ValueError` when it is not JSON."""
        return json.loads(self.body)

    def error(self, context: str = "") -> Err:
        """The provider error for this (non-success) status, `Retry-After` included."""
        return error_from_status(self.status, self.body, self.retry_after(), context)


@dataclass
class Parts:
    scheme: str
    authority: str
    path_with_query: str


def split_url(url: str) -> Parts:
    """Splits an absolute http(s) URL into what wasi:http wants; raises `InvalidUrl`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InvalidUrl("invalid URL: no scheme")
    scheme = scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidUrl(f"invalid URL: unsupported scheme {scheme}")
    rest = rest.split("#", 1)[0]
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, path = rest[:end], rest[end:]
    if not authority:
        raise InvalidUrl("invalid URL: no host")
    if "@" in authority:
        raise InvalidUrl("invalid URL: credentials in the URL are not allowed")
    if path.startswith("?"):
        path = "/" + path
    return Parts(scheme, authority, path or "/")


def encode_path(text: str) -> str:
    """Percent-encodes `text` for a URL path (e.g. a secret's key), keeping `/` as it is: the
    sandbox refuses paths with an encoded `/`, `.`, `\\` or NUL (and `.`/`..` segments), so a key
    such as `team/db` becomes `team/db`, and `a b` becomes `a%20b`."""
    return quote(text, safe="/")


_METHODS: Dict[str, Callable[[], wh.Method]] = {
    "GET": wh.Method_Get,
    "HEAD": wh.Method_Head,
    "POST": wh.Method_Post,
    "PUT": wh.Method_Put,
    "DELETE": wh.Method_Delete,
    "PATCH": wh.Method_Patch,
    "OPTIONS": wh.Method_Options,
}


def method_of(name: str) -> wh.Method:
    known = _METHODS.get(name.upper())
    return known() if known is not None else wh.Method_Other(name)


def header_list(headers: Optional[Headers]) -> List[Tuple[str, bytes]]:
    """Header pairs as wasi:http wants them: lower-case names, byte values."""
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
    return [(n.lower(), v.encode("latin-1") if isinstance(v, str) else bytes(v)) for n, v in items]


def request_headers(headers: Optional[Headers], body: Optional[bytes]) -> List[Tuple[str, bytes]]:
    """`header_list`, plus a `content-length` for a body unless the caller set one."""
    pairs = header_list(headers)
    if body is not None and not any(n == "content-length" for n, _ in pairs):
        pairs.append(("content-length", str(len(body)).encode()))
    return pairs


def error_of(code: wh.ErrorCode) -> HttpError:
    """The client's exception for a wasi:http error code."""
    if isinstance(code, wh.ErrorCode_HttpRequestDenied):
        return Denied()
    if isinstance(code, wh.ErrorCode_HttpResponseBodySize):
        return TooLarge("response too large")
    if isinstance(
        code,
        (wh.ErrorCode_ConnectionTimeout, wh.ErrorCode_ConnectionReadTimeout,
         wh.ErrorCode_HttpResponseTimeout),
    ):
        return Timeout("request timed out")
    name = type(code).__name__.removeprefix("ErrorCode_")
    return Transport(f"transport error: {name}")


def _stream_error(e: Err) -> HttpError:
    if isinstance(e.value, StreamError_LastOperationFailed):
        code = wh.http_error_code(e.value.value)
        if code is not None:
            return error_of(code)
        return Transport(f"transport error: {e.value.value.to_debug_string()}")
    return Transport("transport error: stream closed")


def _wait(future: wh.FutureIncomingResponse) -> wh.IncomingResponse:
    while (outcome := future.get()) is None:
        with future.subscribe() as pollable:
            pollable.block()
    if not isinstance(outcome, Ok):
        raise Transport("transport error: response already taken")
    if isinstance(outcome.value, Err):
        raise error_of(outcome.value.value)
    return outcome.value.value


def _write_body(body: wh.OutgoingBody, data: bytes) -> None:
    try:
        with body.write() as stream:
            for start in range(0, len(data), _CHUNK):
                stream.blocking_write_and_flush(data[start : start + _CHUNK])
    except Err as e:
        raise _stream_error(e) from None
    try:
        wh.OutgoingBody.finish(body, None)
    except Err as e:
        raise error_of(e.value) from None


def _read_body(response: wh.IncomingResponse) -> bytes:
    chunks: List[bytes] = []
    size = 0
    with response.consume() as incoming:
        with incoming.stream() as stream:
            while True:
                try:
                    chunk = stream.blocking_read(64 * 1024)
                except Err as e:
                    if isinstance(e.value, StreamError_Closed):
                        break
                    raise _stream_error(e) from None
                size += len(chunk)
                if size > MAX_BODY:
                    raise TooLarge("response too large")
                chunks.append(chunk)
    return b"".join(chunks)


def request(
    method: str, url: str, headers: Optional[Headers] = None, body: Optional[bytes] = None
) -> Response:
    """Sends one request and reads the whole response. Raises an `HttpError` when there is no
    response (`Denied` for the egress policy); any status, 4xx and 5xx included, is a `Response`.
    A `body` (even empty) is sent with a `content-length` (else wasi:http would send it chunked,
    which some servers do not read)."""
    parts = split_url(url)
    try:
        fields = wh.Fields.from_list(request_headers(headers, body))
    except Err as e:
        raise InvalidUrl(f"invalid header: {type(e.value).__name__}") from None
    outgoing = wh.OutgoingRequest(fields)
    try:
        outgoing.set_method(method_of(method))
        outgoing.set_scheme(wh.Scheme_Https() if parts.scheme == "https" else wh.Scheme_Http())
        outgoing.set_authority(parts.authority)
        outgoing.set_path_with_query(parts.path_with_query)
    except Err:
        raise InvalidUrl(f"invalid URL or method: {method} {parts.authority}") from None
    out_body = outgoing.body() if body is not None else None
    try:
        future = outgoing_handler.handle(outgoing, None)
    except Err as e:
        raise error_of(e.value) from None
    with future:
        if out_body is not None:
            try:
                _write_body(out_body, bytes(body or b""))
            except HttpError:
                # The body stream closed early: either the host refused the request (the refusal
                # is what `_wait` raises) or the server answered before reading it all (a 401 or
                # a 413, say), which is the answer to return.
                pass
        with _wait(future) as response:
            status = response.status()
            with response.headers() as fields_in:
                headers_in = [(n, bytes(v)) for n, v in fields_in.entries()]
            data = _read_body(response)
    return Response(status, headers_in, data)


def get(url: str, headers: Optional[Headers] = None) -> Response:
    return request("GET", url, headers)


def post(
    url: str, body: Union[bytes, str, Dict, List], headers: Optional[Headers] = None
) -> Response:
    """POSTs `body`: bytes as they are, str as UTF-8, a dict or list as JSON (and then sets
    `content-type: application/json` unless `headers` name one)."""
    pairs = header_list(headers)
    if isinstance(body, (dict, list)):
        data = json.dumps(body, separators=(",", ":")).encode()
        if not any(n == "content-type" for n, _ in pairs):
            pairs.append(("content-type", b"application/json"))
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = bytes(body)
    return request("POST", url, pairs, data)
