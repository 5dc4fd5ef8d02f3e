"""The `{{name}}` provider's logic, with no I/O: its config, the backend's URLs and answers, and
how values become secret bytes. The backend is a JSON key-value HTTP API:

    GET {url}/v1/secrets/{key}  ->  200 {"value": "text" | {"field": ...}}
    GET {url}/v1/secrets        ->  200 {"keys": ["k1", ...]}

with `Authorization: Bearer <token>` when the config has `auth`; 401, 403, 404, 429 (with
`Retry-After`) and 5xx map onto the provider errors of the same meaning.
"""

import json
import re
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from ampoule_sdk import credentials, egress, errors, http, types

NAME = "{{name}}"
VERSION = "0.1.0"
# The name under which the host hands over the token (see `Config.credential_requests`).
TOKEN = "token"
API_PREFIX = "/v1/secrets"
KNOWN_FIELDS = ("url", "auth")

CONFIG_SCHEMA = json.dumps(
    {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": {"type": "string", "description": "Base URL of the key-value API"},
            "auth": {
                "type": "object",
                "required": ["tokenSecretRef"],
                "properties": {
                    "tokenSecretRef": {
                        "type": "object",
                        "required": ["name", "key"],
                        "properties": {
                            "name": {"type": "string"},
                            "key": {"type": "string"},
                            "namespace": {"type": "string"},
                        },
                    }
                },
            },
        },
    },
    separators=(",", ":"),
)


class Config:
    """`spec.provider.{{name}}` of a store: `{"url": ..., "auth"?: {"tokenSecretRef": {...}}}`."""

    def __init__(self, text: str):
        try:
            raw = json.loads(text)
        except ValueError as e:
            raise errors.invalid_config(f"{NAME}: config is not JSON: {e}") from None
        if not isinstance(raw, dict):
            raise errors.invalid_config(f"{NAME}: config must be an object")
        url = raw.get("url")
        if not isinstance(url, str) or not url.strip():
            raise errors.invalid_config(f"{NAME}: url is required (the key-value API's base URL)")
        egress.origin_of(url)  # scheme, host and port, no credentials in the URL
        parts = urlsplit(url.strip())
        if parts.query or parts.fragment:
            raise errors.invalid_config(f"{NAME}: url must not have a query or fragment")
        self.url = url.strip().rstrip("/")
        self.base_path = parts.path.rstrip("/")
        self.token_ref: Optional[credentials.SecretKeyRef] = None
        auth = raw.get("auth")
        if auth is not None:
            if not isinstance(auth, dict) or "tokenSecretRef" not in auth:
                raise errors.invalid_config(
                    f"{NAME}: auth must be an object with tokenSecretRef"
                )
            self.token_ref = credentials.secret_key_ref(
                auth["tokenSecretRef"], "auth.tokenSecretRef"
            )
        self.warnings = [f"{NAME}: unknown field {k!r} ignored" for k in raw if k not in KNOWN_FIELDS]

    def egress_rules(self) -> List[types.EgressRule]:
        """Exactly the API's origin, GET only, under its `/v1/secrets` path."""
        return [
            egress.origin_of(self.url, methods=["GET"], path_prefixes=[self.base_path + API_PREFIX])
        ]

    def credential_requests(self) -> List[credentials.CredentialRequest]:
        if self.token_ref is None:
            return []
        return [credentials.secret_key(TOKEN, self.token_ref)]

    def secret_url(self, key: str) -> str:
        """The key percent-encoded, `/` kept (the sandbox refuses an encoded `/` in a path)."""
        return f"{self.url}{API_PREFIX}/{http.encode_path(key)}"

    def list_url(self) -> str:
        return f"{self.url}{API_PREFIX}"


def headers(token: Optional[str]) -> Dict[str, str]:
    out = {"accept": "application/json"}
    if token:
        out["authorization"] = f"Bearer {token}"
    return out


def check_ref(ref: types.SecretRef) -> None:
    """What this backend cannot do: versions and metadata."""
    if ref.version:
        raise errors.invalid_config(f"{NAME}: remoteRef.version is not supported")
    if ref.fetch_metadata:
        raise errors.invalid_config(f"{NAME}: metadataPolicy Fetch is not supported")


def parse_value(body: bytes, key: str) -> Any:
    """The `value` of a `GET /v1/secrets/{key}` answer: a string or an object."""
    try:
        answer = json.loads(body)
    except ValueError:
        raise errors.internal(f"{NAME}: the answer for {key!r} is not JSON") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("value"), (str, dict)):
        raise errors.internal(f"{NAME}: the answer for {key!r} has no string or object value")
    return answer["value"]


def parse_keys(body: bytes) -> List[str]:
    """The `keys` of a `GET /v1/secrets` answer."""
    try:
        answer = json.loads(body)
    except ValueError:
        raise errors.internal(f"{NAME}: the key list is not JSON") from None
    keys = answer.get("keys") if isinstance(answer, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise errors.internal(f"{NAME}: the key list has no list of strings under keys")
    return keys


def to_bytes(value: Any) -> bytes:
    """A string as its UTF-8 bytes, anything else as compact JSON with sorted keys (the same
    bytes whatever order the backend sends, so a Secret does not change for nothing)."""
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def select(value: Any, key: str, prop: Optional[str]) -> Any:
    """`remoteRef.property`: a top-level field of an object value (none: the whole value)."""
    if not prop:
        return value
    if not isinstance(value, dict) or prop not in value:
        raise errors.not_found(f"{NAME}: secret {key!r} has no property {prop!r}")
    return value[prop]


def as_map(value: Any, key: str) -> List[Tuple[str, bytes]]:
    """An object value's fields (strings as bytes, others as JSON), for get-secret-map. A string
    value that holds a JSON object counts as that object."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if not isinstance(value, dict):
        raise errors.internal(f"{NAME}: secret {key!r} is not an object, it has no fields")
    return [(k, to_bytes(v)) for k, v in sorted(value.items())]


def matching(keys: List[str], query: types.FindQuery) -> List[str]:
    """The keys a `find` selects: `name.regexp` (searched, as ESO does) and `path` (a key prefix);
    tags are not supported by this backend."""
    if query.tags:
        raise errors.invalid_config(f"{NAME}: find.tags is not supported")
    pattern = None
    if query.name_regexp is not None:
        try:
            pattern = re.compile(query.name_regexp)
        except re.error as e:
            raise errors.invalid_config(f"{NAME}: find.name.regexp: {e}") from None
    prefix = query.path or ""
    return sorted(
        k for k in set(keys)
        if k.startswith(prefix) and (pattern is None or pattern.search(k) is not None)
    )
