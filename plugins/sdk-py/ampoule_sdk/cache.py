"""The host's cache (`ampoule:host/cache`), scoped to this store and this plugin's digest: for
values worth keeping across reconciles, such as an auth token. TTL, value size and entry count are
capped by the host."""

from typing import Optional

from componentize_py_types import Err
from wit_world.imports import cache as host


class CacheError(Exception):
    """The host refused to store a value (the message names the cap that was hit)."""


def get(key: str) -> Optional[bytes]:
    """The value stored under `key`, if any and not expired."""
    value = host.get(key)
    return None if value is None else bytes(value)


def set(key: str, value: bytes, ttl_seconds: int) -> None:  # noqa: A001 - mirrors the WIT
    """Stores `value` for `ttl_seconds`; raises `CacheError` when a host cap refuses it."""
    try:
        host.set(key, value, ttl_seconds)
    except Err as e:
        raise CacheError(str(e.value)) from None


def delete(key: str) -> None:
    host.delete(key)
