import unittest

from componentize_py_types import Err
from wit_world.imports import credentials as host

from ampoule_sdk import credentials, errors


class SecretKeyRefs(unittest.TestCase):
    def test_parses_an_eso_selector(self):
        self.assertEqual(credentials.secret_key_ref({"name": "kv", "key": "token"}, "auth.ref"),
                         host.SecretKeyRef("kv", "token", None))
        self.assertEqual(
            credentials.secret_key_ref({"name": "kv", "key": "token", "namespace": "ops"}, "x"),
            host.SecretKeyRef("kv", "token", "ops"))

    def test_refusals_name_the_field(self):
        table = [
            (None, "auth.ref must be an object"),
            ({"key": "token"}, "auth.ref.name"),
            ({"name": "kv"}, "auth.ref.key"),
            ({"name": "kv", "key": 3}, "auth.ref.key"),
            ({"name": "kv", "key": "t", "namespace": ""}, "auth.ref.namespace"),
        ]
        for selector, want in table:
            with self.subTest(selector=selector):
                with self.assertRaises(Err) as caught:
                    credentials.secret_key_ref(selector, "auth.ref")
                self.assertEqual(errors.kind(caught.exception), "invalid-config")
                self.assertIn(want, errors.message(caught.exception))


class Requests(unittest.TestCase):
    def test_constructors(self):
        ref = host.SecretKeyRef("kv", "token", None)
        self.assertEqual(credentials.secret_key("token", ref),
                         host.CredentialRequest("token", host.CredentialSource_SecretKey(ref)))
        self.assertEqual(
            credentials.service_account_token("jwt", "app", audiences=("vault",)),
            host.CredentialRequest("jwt", host.CredentialSource_ServiceAccountToken(
                host.ServiceAccountRef("app", None, ["vault"]))))
        self.assertEqual(
            credentials.service_account_annotation("role", "app", "eks.amazonaws.com/role-arn"),
            host.CredentialRequest("role", host.CredentialSource_ServiceAccountAnnotation(
                host.ServiceAccountAnnotationRef("app", None, "eks.amazonaws.com/role-arn"))))
        self.assertEqual(
            credentials.annotated_token("web", "app", "eks.amazonaws.com/audience",
                                        "sts.amazonaws.com", namespace="ns"),
            host.CredentialRequest("web", host.CredentialSource_AnnotatedToken(
                host.AnnotatedTokenRef("app", "ns", "eks.amazonaws.com/audience",
                                       "sts.amazonaws.com", []))))


if __name__ == "__main__":
    unittest.main()
