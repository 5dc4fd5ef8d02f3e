import unittest

from componentize_py_types import Err
from wit_world.imports import ampoule_provider_types as t

from ampoule_sdk import errors


class Constructors(unittest.TestCase):
    def test_each_constructor_builds_its_wit_case(self):
        cases = [
            (errors.not_found, t.ProviderError_NotFound, "not-found"),
            (errors.unauthorized, t.ProviderError_Unauthorized, "unauthorized"),
            (errors.forbidden, t.ProviderError_Forbidden, "forbidden"),
            (errors.invalid_config, t.ProviderError_InvalidConfig, "invalid-config"),
            (errors.unavailable, t.ProviderError_Unavailable, "unavailable"),
            (errors.internal, t.ProviderError_Internal, "internal"),
        ]
        for make, case, kind in cases:
            with self.subTest(kind=kind):
                err = make("why")
                self.assertIsInstance(err, Err)
                self.assertIsInstance(err.value, case)
                self.assertEqual(err.value.value, "why")
                self.assertEqual(errors.kind(err), kind)
                self.assertEqual(errors.message(err), "why")

    def test_rate_limited_carries_retry_after(self):
        err = errors.rate_limited("slow down", 7)
        self.assertIsInstance(err.value, t.ProviderError_RateLimited)
        self.assertEqual(err.value.value, t.RateLimit("slow down", 7))
        self.assertEqual(errors.kind(err), "rate-limited")
        self.assertEqual(errors.message(err), "slow down")
        self.assertIsNone(errors.rate_limited("slow down").value.value.retry_after_secs)

    def test_constructors_can_be_raised(self):
        with self.assertRaises(Err) as caught:
            raise errors.not_found("secret db")
        self.assertEqual(errors.kind(caught.exception), "not-found")


class FromStatus(unittest.TestCase):
    def test_status_table(self):
        table = [
            (401, "unauthorized"),
            (403, "forbidden"),
            (404, "not-found"),
            (429, "rate-limited"),
            (400, "internal"),
            (405, "internal"),
            (409, "internal"),
            (499, "internal"),
            (500, "unavailable"),
            (502, "unavailable"),
            (503, "unavailable"),
            (302, "unavailable"),
            (100, "unavailable"),
        ]
        for status, kind in table:
            with self.subTest(status=status):
                self.assertEqual(errors.kind(errors.error_from_status(status)), kind)

    def test_rate_limited_keeps_retry_after(self):
        err = errors.error_from_status(429, b"", 12, "acme")
        self.assertEqual(err.value.value.retry_after_secs, 12)
        self.assertEqual(err.value.value.message, "acme: HTTP 429")

    def test_message_names_context_status_and_body_start(self):
        err = errors.error_from_status(503, b'{"error":\n  "backend down"}', None, "acme get db")
        self.assertEqual(errors.message(err), 'acme get db: HTTP 503: {"error": "backend down"}')

    def test_long_bodies_are_cut(self):
        err = errors.error_from_status(500, b"x" * 5000)
        text = errors.message(err)
        self.assertTrue(text.endswith("x..."))
        self.assertLess(len(text), errors.BODY_SNIPPET + 20)

    def test_binary_bodies_do_not_break_the_message(self):
        err = errors.error_from_status(500, b"\xff\xfe\x00")
        self.assertTrue(errors.message(err).startswith("HTTP 500: "))


class Guarded(unittest.TestCase):
    def test_passes_results_and_errors_through(self):
        @errors.guarded
        def ok(x):
            return x + 1

        @errors.guarded
        def refuses():
            raise errors.forbidden("no")

        self.assertEqual(ok(1), 2)
        with self.assertRaises(Err) as caught:
            refuses()
        self.assertEqual(errors.kind(caught.exception), "forbidden")

    def test_turns_other_exceptions_into_internal(self):
        @errors.guarded
        def broken():
            return {}["missing"]

        with self.assertRaises(Err) as caught:
            broken()
        self.assertEqual(errors.kind(caught.exception), "internal")
        self.assertEqual(errors.message(caught.exception), "KeyError: 'missing'")
        self.assertEqual(broken.__name__, "broken")


if __name__ == "__main__":
    unittest.main()
