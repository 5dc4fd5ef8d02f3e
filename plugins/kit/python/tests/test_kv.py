import json
import unittest

from componentize_py_types import Err
from wit_world.imports import credentials as host

from ampoule_sdk import errors, types

import app
import kv

URL = "http://127.0.0.1:8200"
TOKEN_REF = {"name": "kv-token", "key": "token"}


def config(**fields) -> str:
    return json.dumps({"url": URL, **fields})


class ConfigParsing(unittest.TestCase):
    def test_minimal(self):
        cfg = kv.Config(config())
        self.assertEqual((cfg.url, cfg.token_ref, cfg.warnings), (URL, None, []))
        self.assertEqual(cfg.secret_url("team/a b"), URL + "/v1/secrets/team/a%20b")
        self.assertEqual(cfg.list_url(), URL + "/v1/secrets")

    def test_auth_and_warnings(self):
        cfg = kv.Config(config(auth={"tokenSecretRef": {**TOKEN_REF, "namespace": "ops"}}, x=1))
        self.assertEqual(cfg.token_ref, host.SecretKeyRef("kv-token", "token", "ops"))
        self.assertEqual(cfg.warnings, [f"{kv.NAME}: unknown field 'x' ignored"])

    def test_invalid_configs_name_the_problem(self):
        table = [
            ("{", "config is not JSON"),
            ("[]", "config must be an object"),
            ("{}", "url is required"),
            (json.dumps({"url": "  "}), "url is required"),
            (json.dumps({"url": "kv.internal"}), "scheme must be http or https"),
            (json.dumps({"url": "http://"}), "no host"),
            (json.dumps({"url": URL + "?a=1"}), "query or fragment"),
            (config(auth="token"), "auth must be an object with tokenSecretRef"),
            (config(auth={}), "auth must be an object with tokenSecretRef"),
            (config(auth={"tokenSecretRef": {"name": "kv-token"}}), "auth.tokenSecretRef.key"),
        ]
        for text, want in table:
            with self.subTest(config=text):
                with self.assertRaises(Err) as caught:
                    kv.Config(text)
                self.assertEqual(errors.kind(caught.exception), "invalid-config")
                self.assertIn(want, errors.message(caught.exception))


class ProviderFunctions(unittest.TestCase):
    def test_describe(self):
        info = app.Provider().describe()
        self.assertEqual((info.name, info.version, info.capabilities),
                         (kv.NAME, "0.1.0", types.Capabilities.READ))
        self.assertEqual(json.loads(info.config_schema)["required"], ["url"])

    def test_egress_is_exactly_the_origin(self):
        rules = app.Provider().requested_egress(config(), "{}")
        self.assertEqual(rules, [types.EgressRule(["http"], "127.0.0.1", [8200], ["GET"],
                                                  ["/v1/secrets"])])
        api = json.dumps({"url": "https://kv.example/api/"})
        rules = app.Provider().requested_egress(api, "{}")
        self.assertEqual(rules, [types.EgressRule(["https"], "kv.example", [443], ["GET"],
                                                  ["/api/v1/secrets"])])

    def test_credentials_only_with_auth(self):
        self.assertEqual(app.Provider().requested_credentials(config()), [])
        self.assertEqual(
            app.Provider().requested_credentials(config(auth={"tokenSecretRef": TOKEN_REF})),
            [host.CredentialRequest("token", host.CredentialSource_SecretKey(
                host.SecretKeyRef("kv-token", "token", None)))])

    def test_validate_config_errors_are_provider_errors(self):
        with self.assertRaises(Err) as caught:
            app.Provider().validate_config("{}")
        self.assertEqual(errors.kind(caught.exception), "invalid-config")


class Values(unittest.TestCase):
    def test_parse_value(self):
        self.assertEqual(kv.parse_value(b'{"value": "s"}', "k"), "s")
        self.assertEqual(kv.parse_value(b'{"value": {"a": 1}}', "k"), {"a": 1})
        for body in [b"<html>", b'{"value": 3}', b"[]", b"{}"]:
            with self.subTest(body=body):
                with self.assertRaises(Err) as caught:
                    kv.parse_value(body, "k")
                self.assertEqual(errors.kind(caught.exception), "internal")

    def test_parse_keys(self):
        self.assertEqual(kv.parse_keys(b'{"keys": ["a", "b"]}'), ["a", "b"])
        for body in [b"{}", b'{"keys": [1]}', b"nope"]:
            with self.subTest(body=body):
                with self.assertRaises(Err):
                    kv.parse_keys(body)

    def test_bytes_and_properties(self):
        value = {"user": "admin", "port": 5432, "nested": {"a": [1]}}
        self.assertEqual(kv.to_bytes(kv.select("s3cr3t", "k", None)), b"s3cr3t")
        self.assertEqual(kv.to_bytes(kv.select(value, "k", "user")), b"admin")
        self.assertEqual(kv.to_bytes(kv.select(value, "k", "port")), b"5432")
        self.assertEqual(kv.to_bytes(kv.select(value, "k", "nested")), b'{"a":[1]}')
        self.assertEqual(kv.to_bytes({"b": 1, "a": {"d": 1, "c": 2}}), b'{"a":{"c":2,"d":1},"b":1}')
        for val, prop in [(value, "nope"), ("s3cr3t", "user")]:
            with self.subTest(prop=prop):
                with self.assertRaises(Err) as caught:
                    kv.select(val, "k", prop)
                self.assertEqual(errors.kind(caught.exception), "not-found")

    def test_as_map(self):
        self.assertEqual(kv.as_map({"port": 1, "host": "h", "tls": True}, "k"),
                         [("host", b"h"), ("port", b"1"), ("tls", b"true")])
        self.assertEqual(kv.as_map('{"a": "b"}', "k"), [("a", b"b")])
        with self.assertRaises(Err) as caught:
            kv.as_map("plain", "k")
        self.assertEqual(errors.kind(caught.exception), "internal")

    def test_unsupported_refs(self):
        versioned = types.SecretRef("k", None, "v2", False)
        metadata = types.SecretRef("k", None, None, True)
        for ref in [versioned, metadata]:
            with self.subTest(ref=ref):
                with self.assertRaises(Err) as caught:
                    kv.check_ref(ref)
                self.assertEqual(errors.kind(caught.exception), "invalid-config")
        kv.check_ref(types.SecretRef("k", "p", None, False))

    def test_headers(self):
        self.assertEqual(kv.headers(None), {"accept": "application/json"})
        self.assertEqual(kv.headers("t0ken")["authorization"], "Bearer t0ken")


class Find(unittest.TestCase):
    keys = ["db", "db-password", "api-key", "db"]

    def test_regexp_and_path(self):
        self.assertEqual(kv.matching(self.keys, types.FindQuery(None, "^db", [])),
                         ["db", "db-password"])
        self.assertEqual(kv.matching(self.keys, types.FindQuery(None, "key$", [])), ["api-key"])
        self.assertEqual(kv.matching(self.keys, types.FindQuery("db-", None, [])), ["db-password"])
        self.assertEqual(kv.matching(self.keys, types.FindQuery(None, None, [])),
                         ["api-key", "db", "db-password"])

    def test_refusals(self):
        for query in [types.FindQuery(None, "(", []), types.FindQuery(None, None, [("a", "b")])]:
            with self.subTest(query=query):
                with self.assertRaises(Err) as caught:
                    kv.matching(self.keys, query)
                self.assertEqual(errors.kind(caught.exception), "invalid-config")


if __name__ == "__main__":
    unittest.main()
