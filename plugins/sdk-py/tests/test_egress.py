import unittest

from componentize_py_types import Err
from wit_world.imports import ampoule_provider_types as t

from ampoule_sdk import errors
from ampoule_sdk.egress import origin_of, origins_of


class OriginOf(unittest.TestCase):
    def test_exactly_the_origin(self):
        rule = origin_of("http://127.0.0.1:8200/v1/secrets?x=1", methods=["get"],
                         path_prefixes=["/v1/secrets"])
        self.assertEqual(
            rule,
            t.EgressRule(schemes=["http"], host="127.0.0.1", ports=[8200], methods=["GET"],
                         path_prefixes=["/v1/secrets"]),
        )

    def test_default_ports_and_any(self):
        self.assertEqual(origin_of("https://Vault.Example.COM.").ports, [443])
        self.assertEqual(origin_of("https://Vault.Example.COM.").host, "vault.example.com")
        rule = origin_of("http://kv.internal")
        self.assertEqual((rule.ports, rule.methods, rule.path_prefixes), ([80], [], []))

    def test_ipv6_literal_without_brackets(self):
        rule = origin_of("http://[::1]:9000/")
        self.assertEqual((rule.host, rule.ports), ("::1", [9000]))

    def test_bad_urls_are_invalid_config(self):
        for url in ["", "kv.internal:80", "ftp://kv.internal", "http://", "http://h:99999",
                    "http://h:port", "http://h:0"]:
            with self.subTest(url=url):
                with self.assertRaises(Err) as caught:
                    origin_of(url)
                self.assertEqual(errors.kind(caught.exception), "invalid-config")

    def test_credentials_in_the_url_are_refused_without_echoing_them(self):
        with self.assertRaises(Err) as caught:
            origin_of("https://user:hunter2@kv.internal/")
        self.assertEqual(errors.kind(caught.exception), "invalid-config")
        self.assertNotIn("hunter2", errors.message(caught.exception))

    def test_origins_of_drops_duplicates(self):
        rules = origins_of(["https://a.example/x", "https://a.example:443/y", "http://a.example"])
        self.assertEqual([(r.schemes, r.host, r.ports) for r in rules],
                         [(["https"], "a.example", [443]), (["http"], "a.example", [80])])


if __name__ == "__main__":
    unittest.main()
