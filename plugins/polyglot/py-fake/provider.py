"""ESO's `fake` provider (`spec.provider.fake`) written in Python, built with componentize-py for
the `ampoule:provider/secret-provider` world. Same behaviour as the Rust plugin in plugins/fake:

- config `{data: [{key, value?, version?, valueMap?}], validationResult?}`;
- `data[].version`: a `remoteRef.version` must equal it (unversioned refs match unversioned entries
  only); `remoteRef.property` is a dotted path into the JSON value;
- get-secret-map: `valueMap`, else `value` parsed as a JSON object;
- find: `name.regexp` only (the latest version of each matching key);
- push/delete/exists work on the client's own copy (a client lives for one reconcile).

Test hook (off unless the config says `probes: true`): remote keys `probe:file:<path>`,
`probe:socket:<host>:<port>` and `probe:http:<url>` try to read a file, open a TCP socket or send
an HTTP request, so a test can see the sandbox refuse each (`probeEgress: [{host, ports}]` is then
the egress the plugin requests). Whatever the outcome, the plugin
answers with an error naming it, or with the bytes it got (which a test treats as a failure).

Every module is imported at the top: the interpreter is snapshotted at build time.
"""

import json
import re
import socket
from typing import List, Optional, Tuple

from wit_world.exports import provider as provider_exports

from ampoule_sdk import errors, http
from ampoule_sdk import types as t
from ampoule_sdk.errors import guarded, internal, invalid_config


def not_found(key: str):
    return errors.not_found(f"secret not found: {key}")


class Entry:
    def __init__(self, raw: dict):
        self.key = str(raw.get("key") or "")
        self.value = str(raw.get("value") or "")
        self.version = str(raw.get("version") or "")
        self.value_map = dict(raw.get("valueMap") or {})


class Config:
    def __init__(self, text: str):
        try:
            raw = json.loads(text)
        except ValueError as e:
            raise invalid_config(f"fake: {e}")
        if not isinstance(raw, dict):
            raise invalid_config("fake: config must be an object")
        self.data = [Entry(e if isinstance(e, dict) else {}) for e in raw.get("data") or []]
        for pos, entry in enumerate(self.data):
            if not entry.key:
                raise invalid_config(f"key must be set in data {pos}")
            if not entry.value and not entry.value_map:
                raise invalid_config(f"at least one value must be set in data {pos}")
        self.validation_result = raw.get("validationResult")
        self.probes = raw.get("probes") is True
        self.egress = [
            t.EgressRule(
                schemes=[],
                host=str(rule.get("host") or ""),
                ports=[int(port) for port in rule.get("ports") or []],
                methods=[],
                path_prefixes=[],
            )
            for rule in (raw.get("probeEgress") or [] if self.probes else [])
            if isinstance(rule, dict)
        ]


def is_ready(value) -> bool:
    """ESO's ValidationResult: Ready = 0, Unknown = 1, Error = 2 (names accepted too)."""
    return value is None or value == "Ready" or (type(value) is int and value == 0)


def to_text(node) -> str:
    return node if isinstance(node, str) else json.dumps(node, separators=(",", ":"))


def prop(value: str, path: str) -> Optional[str]:
    try:
        node = json.loads(value)
    except ValueError:
        return None
    for part in path.split("."):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return None
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return to_text(node)


def probe(what: str) -> bytes:
    """The test hook: try the forbidden thing and report what happened."""
    kind, _, target = what.partition(":")
    try:
        if kind == "file":
            with open(target, "rb") as f:
                return f.read()
        if kind == "socket":
            host, _, port = target.rpartition(":")
            with socket.create_connection((host, int(port)), timeout=2) as s:
                return s.recv(64) or b"connected"
        if kind == "http":
            return http.get(target).body
    except http.Denied as e:
        raise e.provider_error()
    except Exception as e:  # anything else the sandbox answered with
        raise errors.unavailable(f"{kind} probe failed: {type(e).__name__}: {e}")
    raise invalid_config(f"unknown probe {kind!r}")


class Client(provider_exports.Client):
    def __init__(self, config: Config):
        self.entries = list(config.data)
        self.ready = is_ready(config.validation_result)
        self.probes = config.probes

    @classmethod
    @guarded
    def open(cls, config: str, ctx: t.StoreContext) -> "Client":
        return cls(Config(config))

    def find(self, key: str, version: Optional[str]) -> Optional[Entry]:
        want = version or ""
        for entry in reversed(self.entries):
            if entry.key == key and entry.version == want:
                return entry
        return None

    @guarded
    def validate(self) -> t.Validation:
        if not self.ready:
            raise errors.unavailable("unable to validate")
        return t.Validation.VALID

    @guarded
    def get_secret(self, secret: t.SecretRef) -> bytes:
        if self.probes and secret.key.startswith("probe:"):
            return probe(secret.key[len("probe:"):])
        entry = self.find(secret.key, secret.version)
        if entry is None:
            raise not_found(secret.key)
        if not secret.property:
            return entry.value.encode()
        value = prop(entry.value, secret.property)
        if value is None:
            raise not_found(secret.key)
        return value.encode()

    @guarded
    def get_secret_map(self, secret: t.SecretRef) -> List[Tuple[str, bytes]]:
        entry = self.find(secret.key, secret.version)
        if entry is None:
            raise not_found(secret.key)
        if entry.value_map:
            return [(k, str(v).encode()) for k, v in sorted(entry.value_map.items())]
        value = prop(entry.value, secret.property) if secret.property else entry.value
        if value is None:
            raise not_found(secret.key)
        try:
            members = json.loads(value)
        except ValueError as e:
            raise internal(f"unable to unmarshal secret: {e}")
        if not isinstance(members, dict):
            raise internal("unable to unmarshal secret: not a JSON object")
        return [(k, to_text(v).encode()) for k, v in sorted(members.items())]

    @guarded
    def get_all_secrets(self, query: t.FindQuery) -> List[Tuple[str, bytes]]:
        if query.name_regexp is None or query.tags or query.path is not None:
            raise invalid_config("fake: unsupported find operator (only name.regexp)")
        try:
            pattern = re.compile(query.name_regexp)
        except re.error as e:
            raise invalid_config(f"find.name.regexp: {e}")
        latest = {}
        for entry in self.entries:
            if pattern.search(entry.key) is None:
                continue
            seen = latest.get(entry.key)
            if seen is None or seen.version < entry.version:
                latest[entry.key] = entry
        return [(k, latest[k].value.encode()) for k in sorted(latest)]

    @guarded
    def push_secret(self, req: t.PushRequest) -> None:
        try:
            value = bytes(req.value).decode("utf-8")
        except UnicodeDecodeError:
            raise internal("fake stores text only")
        self.entries = [e for e in self.entries if not (e.key == req.remote_key and not e.version)]
        self.entries.append(Entry({"key": req.remote_key, "value": value}))

    @guarded
    def delete_secret(self, remote_key: str, property: Optional[str]) -> None:
        self.entries = [e for e in self.entries if e.key != remote_key]

    @guarded
    def secret_exists(self, remote_key: str, property: Optional[str]) -> bool:
        return any(e.key == remote_key for e in self.entries)
