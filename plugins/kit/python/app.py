"""Entry module of the `{{name}}` provider (componentize-py builds `app`): the functions of the
`ampoule:provider/provider` interface. They answer from their arguments alone (no I/O): the host
keeps their answers per component digest and config. The `client` resource, which talks to the
backend, is `provider.Client` (componentize-py looks an exported resource up in the module named
after its interface)."""

from typing import List

from wit_world import exports

from ampoule_sdk import credentials, errors, types

import kv
import provider  # noqa: F401 - the exported `client` resource


class Provider(exports.Provider):
    @errors.guarded
    def describe(self) -> types.ProviderInfo:
        return types.ProviderInfo(
            name=kv.NAME,
            version=kv.VERSION,
            capabilities=types.Capabilities.READ,
            config_schema=kv.CONFIG_SCHEMA,
        )

    @errors.guarded
    def validate_config(self, config: str) -> List[str]:
        return kv.Config(config).warnings

    @errors.guarded
    def requested_egress(self, config: str, settings: str) -> List[types.EgressRule]:
        return kv.Config(config).egress_rules()

    @errors.guarded
    def requested_credentials(self, config: str) -> List[credentials.CredentialRequest]:
        return kv.Config(config).credential_requests()
