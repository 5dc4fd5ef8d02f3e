"""The `client` resource of the `{{name}}` provider: one store, one reconcile. It reads the
backend with `ampoule_sdk.http`; the host lets it reach only what `requested-egress` asked for."""

from typing import List, Optional, Tuple

from componentize_py_types import Err
from wit_world.exports import provider as provider_exports

from ampoule_sdk import credentials, errors, http, types

import kv


class Client(provider_exports.Client):
    def __init__(self, config: kv.Config, token: Optional[str]):
        self.config = config
        self.headers = kv.headers(token)

    @classmethod
    @errors.guarded
    def open(cls, config: str, ctx: types.StoreContext) -> "Client":
        parsed = kv.Config(config)
        token = credentials.credential_text(kv.TOKEN) if parsed.token_ref is not None else None
        return cls(parsed, token)

    def _get(self, url: str, what: str) -> bytes:
        try:
            resp = http.get(url, self.headers)
        except http.HttpError as e:
            raise e.provider_error() from None
        if not resp.ok:
            raise resp.error(f"{kv.NAME}: {what}")
        return resp.body

    def _value(self, key: str):
        return kv.parse_value(self._get(self.config.secret_url(key), f"get {key!r}"), key)

    @errors.guarded
    def validate(self) -> types.Validation:
        kv.parse_keys(self._get(self.config.list_url(), "list keys"))
        return types.Validation.VALID

    @errors.guarded
    def get_secret(self, secret: types.SecretRef) -> bytes:
        kv.check_ref(secret)
        value = self._value(secret.key)
        return kv.to_bytes(kv.select(value, secret.key, secret.property))

    @errors.guarded
    def get_secret_map(self, secret: types.SecretRef) -> List[Tuple[str, bytes]]:
        kv.check_ref(secret)
        value = self._value(secret.key)
        return kv.as_map(kv.select(value, secret.key, secret.property), secret.key)

    @errors.guarded
    def get_all_secrets(self, query: types.FindQuery) -> List[Tuple[str, bytes]]:
        keys = kv.parse_keys(self._get(self.config.list_url(), "list keys"))
        found = []
        for key in kv.matching(keys, query):
            try:
                found.append((key, kv.to_bytes(self._value(key))))
            except Err as e:
                # listed a moment ago, deleted since: not part of the answer
                if errors.kind(e) != "not-found":
                    raise
        return found

    def push_secret(self, req: types.PushRequest) -> None:
        raise errors.forbidden(f"{kv.NAME} is read-only")

    def delete_secret(self, remote_key: str, property: Optional[str]) -> None:
        raise errors.forbidden(f"{kv.NAME} is read-only")

    def secret_exists(self, remote_key: str, property: Optional[str]) -> bool:
        raise errors.forbidden(f"{kv.NAME} is read-only")
