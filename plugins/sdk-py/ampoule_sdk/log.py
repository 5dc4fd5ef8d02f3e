"""The host's log sink (`ampoule:host/log`): lines land in the operator's log with the store and
the plugin's digest. Messages are truncated and capped per call. Never log secret values."""

from wit_world.imports import log as host

Level = host.Level


def log(level: host.Level, message: str) -> None:
    host.log(level, message)


def trace(message: str) -> None:
    host.log(host.Level.TRACE, message)


def debug(message: str) -> None:
    host.log(host.Level.DEBUG, message)


def info(message: str) -> None:
    host.log(host.Level.INFO, message)


def warn(message: str) -> None:
    host.log(host.Level.WARN, message)


def error(message: str) -> None:
    host.log(host.Level.ERROR, message)
