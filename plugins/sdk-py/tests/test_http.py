import unittest

from wit_world.imports import ampoule_provider_types as t
from wit_world.imports import wasi_http_types as wh

from ampoule_sdk import errors, http


class SplitUrl(unittest.TestCase):
    def test_parts(self):
        table = [
            ("http://127.0.0.1:8200/v1/secrets/a%2Fb?x=1#frag",
             ("http", "127.0.0.1:8200", "/v1/secrets/a%2Fb?x=1")),
            ("HTTPS://kv.example", ("https", "kv.example", "/")),
            ("https://kv.example?x=1", ("https", "kv.example", "/?x=1")),
            ("http://[::1]:80/a", ("http", "[::1]:80", "/a")),
        ]
        for url, want in table:
            with self.subTest(url=url):
                parts = http.split_url(url)
                self.assertEqual((parts.scheme, parts.authority, parts.path_with_query), want)

    def test_refusals(self):
        for url in ["kv.example/x", "ftp://kv.example/", "http:///x", "https://u:p@kv.example/"]:
            with self.subTest(url=url):
                with self.assertRaises(http.InvalidUrl) as caught:
                    http.split_url(url)
                self.assertNotIn("u:p", str(caught.exception))
                self.assertEqual(errors.kind(caught.exception.provider_error()), "invalid-config")


class EncodePath(unittest.TestCase):
    def test_keeps_slashes_encodes_the_rest(self):
        table = [("db-password", "db-password"), ("team/db", "team/db"), ("a b", "a%20b"),
                 ("50%", "50%25"), ("x?y#z", "x%3Fy%23z"), ("k.v~_-", "k.v~_-"), ("é", "%C3%A9")]
        for text, want in table:
            with self.subTest(text=text):
                self.assertEqual(http.encode_path(text), want)


class Requests(unittest.TestCase):
    def test_methods(self):
        self.assertIsInstance(http.method_of("get"), wh.Method_Get)
        self.assertIsInstance(http.method_of("POST"), wh.Method_Post)
        self.assertEqual(http.method_of("PROPFIND"), wh.Method_Other("PROPFIND"))

    def test_headers_lower_case_names_and_byte_values(self):
        self.assertEqual(http.header_list({"Authorization": "Bearer t"}),
                         [("authorization", b"Bearer t")])
        self.assertEqual(http.header_list([("X-A", b"1"), ("x-a", "2")]),
                         [("x-a", b"1"), ("x-a", b"2")])
        self.assertEqual(http.header_list(None), [])

    def test_a_body_gets_a_content_length(self):
        self.assertEqual(http.request_headers({"a": "1"}, None), [("a", b"1")])
        self.assertEqual(http.request_headers(None, b""), [("content-length", b"0")])
        self.assertEqual(http.request_headers({"A": "1"}, b"xyz"),
                         [("a", b"1"), ("content-length", b"3")])
        self.assertEqual(http.request_headers({"Content-Length": "3"}, b"xyz"),
                         [("content-length", b"3")])


class Responses(unittest.TestCase):
    def test_header_lookup_and_ok(self):
        resp = http.Response(204, [("Content-Type", b"application/json")], b"")
        self.assertTrue(resp.ok)
        self.assertEqual(resp.header("content-type"), b"application/json")
        self.assertIsNone(resp.header("etag"))
        self.assertFalse(http.Response(301).ok)

    def test_retry_after(self):
        table = [([("retry-after", b" 30 ")], 30), ([("Retry-After", b"0")], 0),
                 ([("retry-after", b"Wed, 21 Oct 2015 07:28:00 GMT")], None),
                 ([("retry-after", b"-1")], None), ([], None)]
        for headers, want in table:
            with self.subTest(headers=headers):
                self.assertEqual(http.Response(429, headers).retry_after(), want)

    def test_error_maps_status_and_retry_after(self):
        err = http.Response(429, [("retry-after", b"5")], b"slow").error("kv")
        want = t.ProviderError_RateLimited(t.RateLimit("kv: HTTP 429: slow", 5))
        self.assertEqual(err.value, want)
        self.assertEqual(errors.kind(http.Response(404).error()), "not-found")

    def test_json_and_text(self):
        resp = http.Response(200, [], b'{"value": "s3cr3t"}')
        self.assertEqual(resp.json(), {"value": "s3cr3t"})
        self.assertEqual(resp.text(), '{"value": "s3cr3t"}')
        with self.assertRaises(ValueError):
            http.Response(200, [], b"<html>").json()


class TransportErrors(unittest.TestCase):
    def test_codes(self):
        table = [
            (wh.ErrorCode_HttpRequestDenied(), http.Denied, "forbidden"),
            (wh.ErrorCode_HttpResponseBodySize(None), http.TooLarge, "unavailable"),
            (wh.ErrorCode_ConnectionTimeout(), http.Timeout, "unavailable"),
            (wh.ErrorCode_HttpResponseTimeout(), http.Timeout, "unavailable"),
            (wh.ErrorCode_ConnectionRefused(), http.Transport, "unavailable"),
        ]
        for code, cls, kind in table:
            with self.subTest(code=type(code).__name__):
                err = http.error_of(code)
                self.assertIsInstance(err, cls)
                self.assertEqual(errors.kind(err.provider_error()), kind)
        self.assertEqual(str(http.error_of(wh.ErrorCode_ConnectionRefused())),
                         "transport error: ConnectionRefused")


if __name__ == "__main__":
    unittest.main()
