"""TLS settings of this store's HTTPS egress (`ampoule:host/tls`). They apply to this plugin
instance (one store, one reconcile) and never widen the egress the host granted."""

from componentize_py_types import Err
from wit_world.imports import tls as host

from .errors import invalid_config


def set_trust(ca_pem: bytes) -> None:
    """Trust exactly these PEM CA certificates instead of the public web PKI roots (ESO's
    `caBundle`); raises `invalid_config` when the host refuses the PEM."""
    try:
        host.set_trust(ca_pem)
    except Err as e:
        raise invalid_config(f"CA bundle: {e.value}") from None


def set_client_identity(cert_pem: bytes, key_pem: bytes) -> None:
    """Present this PEM client certificate chain (leaf first) and PEM private key when a server
    asks for one; raises `invalid_config` when the host refuses them."""
    try:
        host.set_client_identity(cert_pem, key_pem)
    except Err as e:
        raise invalid_config(f"client certificate: {e.value}") from None
