"""Credentials: declare them in `requested-credentials`, read them after `client.open`.

The plugin never reads Kubernetes itself. `requested-credentials` returns what a config
references (built with the constructors below); the host resolves each with ESO's namespace rules
and hands the material over under the name the plugin chose, read with `credential(name)`.
"""

from typing import Any, Iterable, Optional

from componentize_py_types import Err
from wit_world.imports import credentials as host

from .errors import invalid_config

SecretKeyRef = host.SecretKeyRef
ConfigMapKeyRef = host.ConfigMapKeyRef
CredentialRequest = host.CredentialRequest


def secret_key_ref(selector: Any, field: str) -> host.SecretKeyRef:
    """Parses an ESO `SecretKeySelector` (`{name, key, namespace?}`) found at `field` of a config;
    raises `invalid_config` naming the field when it is not one."""
    if not isinstance(selector, dict):
        raise invalid_config(f"{field} must be an object with name and key")
    name, key, namespace = selector.get("name"), selector.get("key"), selector.get("namespace")
    if not isinstance(name, str) or not name:
        raise invalid_config(f"{field}.name must be a non-empty string")
    if not isinstance(key, str) or not key:
        raise invalid_config(f"{field}.key must be a non-empty string")
    if namespace is not None and (not isinstance(namespace, str) or not namespace):
        raise invalid_config(f"{field}.namespace must be a non-empty string when set")
    return host.SecretKeyRef(name=name, key=key, namespace=namespace)


def secret_key(name: str, ref: host.SecretKeyRef) -> host.CredentialRequest:
    """A key of a Kubernetes Secret, available as `credential(name)`."""
    return host.CredentialRequest(name, host.CredentialSource_SecretKey(ref))


def service_account_token(
    name: str, account: str, namespace: Optional[str] = None, audiences: Iterable[str] = ()
) -> host.CredentialRequest:
    """A TokenRequest token of a ServiceAccount for `audiences`."""
    return host.CredentialRequest(
        name,
        host.CredentialSource_ServiceAccountToken(
            host.ServiceAccountRef(account, namespace, list(audiences))
        ),
    )


def service_account_annotation(
    name: str, account: str, key: str, namespace: Optional[str] = None
) -> host.CredentialRequest:
    """One annotation of a ServiceAccount (read it with `annotation(name)`)."""
    return host.CredentialRequest(
        name,
        host.CredentialSource_ServiceAccountAnnotation(
            host.ServiceAccountAnnotationRef(account, namespace, key)
        ),
    )


def annotated_token(
    name: str,
    account: str,
    audience_annotation: str,
    default_audience: str,
    namespace: Optional[str] = None,
    audiences: Iterable[str] = (),
) -> host.CredentialRequest:
    """A ServiceAccount token whose first audience comes from one of its annotations (ESO's IRSA
    rule), then `audiences`."""
    return host.CredentialRequest(
        name,
        host.CredentialSource_AnnotatedToken(
            host.AnnotatedTokenRef(
                account, namespace, audience_annotation, default_audience, list(audiences)
            )
        ),
    )


def credential(name: str) -> bytes:
    """The material the host resolved for `name`; raises `invalid_config` when the host has none
    (the name was not requested for this config)."""
    try:
        return bytes(host.get(name))
    except Err as e:
        raise invalid_config(f"credential {name}: {e.value}") from None


def credential_text(name: str) -> str:
    """`credential(name)` as UTF-8 text with surrounding whitespace removed (tokens in Secrets
    often end with a newline)."""
    try:
        return credential(name).decode("utf-8").strip()
    except UnicodeDecodeError:
        raise invalid_config(f"credential {name} is not UTF-8") from None


def annotation(name: str) -> Optional[str]:
    """A ServiceAccount annotation requested under `name`: `None` when absent or empty."""
    value = credential_text(name)
    return value or None


def request_config_map(
    name: str, config_map: str, key: str, namespace: Optional[str] = None
) -> None:
    """Asks the host to resolve a ConfigMap key under `name` as well (read it with `credential`).
    Only from `requested-credentials`; anywhere else the host refuses."""
    try:
        host.request_config_map(name, host.ConfigMapKeyRef(config_map, key, namespace))
    except Err as e:
        raise invalid_config(f"config map {name}: {e.value}") from None


def request_controller_identity(name: str, source: host.ControllerIdentity) -> None:
    """Asks the host for the operator's own identity under `name` (a `ControllerIdentity_*` case).
    Only from `requested-credentials`, and only resolved when the ProviderClass sets
    `spec.credentials.allowControllerIdentity: true`."""
    try:
        host.request_controller_identity(name, source)
    except Err as e:
        raise invalid_config(f"controller identity {name}: {e.value}") from None
