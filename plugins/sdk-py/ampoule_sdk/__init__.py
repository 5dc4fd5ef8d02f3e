"""Guest-side helpers for Ampoule provider plugins written in Python (componentize-py 0.25.1).

A provider is a component for the `ampoule:provider/secret-provider` world (the `wit/` folder).
componentize-py generates the world's bindings (the `wit_world` package) when it builds the
component; this package wraps them:

- `errors`: constructors of the WIT `provider-error` (raise them from exports), `guarded` for
  exports, `error_from_status` for HTTP backends;
- `egress`: `origin_of(url, ...)`, the `egress-rule` a config needs for `requested-egress`;
- `credentials`: `credential-request` constructors for `requested-credentials` and
  `credential(name)` to read what the host resolved;
- `http`: a blocking HTTP client over `wasi:http` (the only egress the sandbox allows);
- `cache`, `tls`, `log`: the `ampoule:host` interfaces.

`types` holds the world's records (`ProviderInfo`, `SecretRef`, ...). Import the modules you
use (`from ampoule_sdk import errors, http`): this package itself imports none of them, so that it
can be imported, and its tests discovered, where `wit_world` does not exist. The
generated `wit_world.exports.Provider` and `wit_world.exports.provider.Client` are the protocols
an app implements (see the template in plugins/kit/python). A copy of the generated bindings lives
in `ampoule_sdk/bindings/` for editors, type checkers and unit tests outside a component (put that
folder on the path there; never inside a component, where componentize-py provides its own).
"""

__version__ = "0.1.0"
