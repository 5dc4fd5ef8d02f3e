"""Entry module for componentize-py: the `ampoule:provider/provider` functions. The `client`
resource is `provider.Client` (componentize-py looks exported resources up in a module named
after their interface)."""

from typing import List

from wit_world import exports

from ampoule_sdk import credentials
from ampoule_sdk import types as t
from ampoule_sdk.errors import guarded

from provider import Config


class Provider(exports.Provider):
    @guarded
    def describe(self) -> t.ProviderInfo:
        return t.ProviderInfo(
            name="fake",
            version="0.1.0",
            capabilities=t.Capabilities.READ | t.Capabilities.WRITE,
            config_schema=None,
        )

    @guarded
    def validate_config(self, config: str) -> List[str]:
        Config(config)
        return []

    @guarded
    def requested_egress(self, config: str, settings: str) -> List[t.EgressRule]:
        return Config(config).egress

    @guarded
    def requested_credentials(self, config: str) -> List[credentials.CredentialRequest]:
        return []
