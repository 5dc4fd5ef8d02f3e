"""The records, enums and flags of `ampoule:provider/types` (as componentize-py generates them),
under shorter names: `types.ProviderInfo`, `types.SecretRef`, `types.Validation.VALID`, ..."""

from wit_world.imports.ampoule_provider_types import (
    Capabilities,
    EgressRule,
    FindQuery,
    ProviderError,
    ProviderInfo,
    PushRequest,
    RateLimit,
    SecretRef,
    StoreContext,
    StoreKind,
    Validation,
)

__all__ = [
    "Capabilities",
    "EgressRule",
    "FindQuery",
    "ProviderError",
    "ProviderInfo",
    "PushRequest",
    "RateLimit",
    "SecretRef",
    "StoreContext",
    "StoreKind",
    "Validation",
]
