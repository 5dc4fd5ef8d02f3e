"""`requested-egress` helpers: the rules a config needs, no wider.

The host grants at most what the plugin requests, narrowed by the ProviderClass ceiling and the
store's `spec.sandbox`; a request outside the grant fails with `http.Denied`.
"""

from typing import Iterable, List
from urllib.parse import urlsplit

from wit_world.imports import ampoule_provider_types as t

from .errors import invalid_config

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(
    url: str, methods: Iterable[str] = (), path_prefixes: Iterable[str] = ()
) -> t.EgressRule:
    """One rule for exactly the origin of `url`: its scheme, host and port (the scheme's default
    port when the URL names none). `methods` (e.g. `["GET"]`) and `path_prefixes` (e.g.
    `["/v1/secrets"]`) narrow it further; empty means any. Raises `invalid_config` for a URL that
    is not absolute http(s) with a host."""
    try:
        parts = urlsplit(url.strip())
    except ValueError as e:
        raise invalid_config(f"url: {e}") from None
    if "@" in parts.netloc:
        # never echo what may be a password
        raise invalid_config("url: credentials in the URL are not allowed")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise invalid_config(f"url {url!r}: the port is not a number from 1 to 65535")
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise invalid_config(f"url {url!r}: scheme must be http or https")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise invalid_config(f"url {url!r}: no host")
    return t.EgressRule(
        schemes=[scheme],
        host=host,
        ports=[port if port is not None else DEFAULT_PORTS[scheme]],
        methods=[m.upper() for m in methods],
        path_prefixes=list(path_prefixes),
    )


def origins_of(urls: Iterable[str], **narrowing) -> List[t.EgressRule]:
    """`origin_of` for each URL, duplicates dropped (order kept)."""
    rules: List[t.EgressRule] = []
    for url in urls:
        rule = origin_of(url, **narrowing)
        if rule not in rules:
            rules.append(rule)
    return rules
