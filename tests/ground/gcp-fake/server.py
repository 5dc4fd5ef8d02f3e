"""A small fake of Google Secret Manager's REST API (v1) plus the token endpoints ESO's GCP
provider uses, for the test ground (loopback only, state in memory, stdlib only).

Serves, under their normal paths on one origin:
  Secret Manager  POST   /v1/projects/P[/locations/L]/secrets?secretId=S         create
                  GET    /v1/projects/P[/locations/L]/secrets[?filter=&pageSize=&pageToken=]
                  GET    /v1/.../secrets/S                                        get
                  PATCH  /v1/.../secrets/S?updateMask=labels,annotations           {labels, annotations, etag?}
                  DELETE /v1/.../secrets/S[?etag=E]
                  POST   /v1/.../secrets/S:addVersion                             {payload: {data}}
                  GET    /v1/.../secrets/S/versions[?filter=state:ENABLED]
                  GET    /v1/.../secrets/S/versions/V                             (V = n | latest)
                  GET    /v1/.../secrets/S/versions/V:access
                  POST   /v1/.../secrets/S/versions/V:disable | :enable | :destroy
  OAuth2          POST   /token                         JWT-bearer grant (form)
  STS             POST   /v1/token                      token exchange (JSON or form)
  Secure Token    POST   /v1/identitybindingtoken       GKE identity binding (JSON or form)
  IAM Credentials POST   /v1/projects/-/serviceAccounts/GSA:generateAccessToken
  Test hooks      GET    /fake/health, GET /fake/stats (token calls by endpoint), POST /fake/reset

A secret's etag changes with every update; an update or delete carrying another etag fails with
ABORTED (HTTP 409), as the real service does.

Names use the project number (`projects/<number>/secrets/S`) as the real service does; the
number is derived from the project ID. Secret Manager calls need `Authorization: Bearer <token>`
with a token this fake issued, or the literal token `anonymous` (what tests using Google's client
with AnonymousCredentials send: no header at all is also accepted when --allow-anonymous).
Errors use Google's JSON shape {"error": {"code", "message", "status"}}.
"""

import argparse
import base64
import json
import re
import secrets
import threading
import time
import zlib  # noqa: F401  (crc32c below is Castagnoli, not zlib's crc32)
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

LOCK = threading.Lock()
STATE = {"secrets": {}, "tokens": {}, "stats": {}}
TOKEN_TTL = 3600


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def project_number(project: str) -> str:
    if project.isdigit():
        return project
    return str(100000000000 + zlib.crc32(project.encode()) % 900000000000)


def now_rfc3339(offset=0.0) -> str:
    t = datetime.fromtimestamp(time.time() + offset, tz=timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ApiError(Exception):
    STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
              404: "NOT_FOUND", 409: "ALREADY_EXISTS"}
    # fields of a Secret an update mask may name
    UPDATABLE = ("labels", "annotations")

    def __init__(self, code, message, status=None):
        super().__init__(message)
        self.code, self.message = code, message
        self.status = status or self.STATUS.get(code, "INTERNAL")


PARENT = r"/v1/projects/(?P<project>[^/]+)(?:/locations/(?P<location>[^/]+))?"
ROUTES = [
    ("GET", re.compile(PARENT + r"/secrets$"), "list_secrets"),
    ("POST", re.compile(PARENT + r"/secrets$"), "create_secret"),
    ("GET", re.compile(PARENT + r"/secrets/(?P<secret>[^/:]+)$"), "get_secret"),
    ("DELETE", re.compile(PARENT + r"/secrets/(?P<secret>[^/:]+)$"), "delete_secret"),
    ("PATCH", re.compile(PARENT + r"/secrets/(?P<secret>[^/:]+)$"), "update_secret"),
    ("POST", re.compile(PARENT + r"/secrets/(?P<secret>[^/:]+):addVersion$"), "add_version"),
    ("GET", re.compile(PARENT + r"/secrets/(?P<secret>[^/:]+)/versions$"), "list_versions"),
    ("GET", re.compile(PARENT + r"/secrets/(?P<secret>[^/:]+)/versions/(?P<version>[^/:]+)$"), "get_version"),
    ("GET", re.compile(PARENT + r"/secrets/(?P<secret>[^/:]+)/versions/(?P<version>[^/:]+):access$"), "access"),
    ("POST", re.compile(PARENT + r"/secrets/(?P<secret>[^/:]+)/versions/(?P<version>[^/:]+):(?P<action>enable|disable|destroy)$"), "version_state"),
]


def parent_name(m) -> str:
    name = f"projects/{project_number(m['project'])}"
    if m["location"]:
        name += f"/locations/{m['location']}"
    return name


def match_filter(secret: dict, flt: str) -> bool:
    """The subset of the list filter syntax used by clients: `labels.k=v`, `labels.k:*`,
    `name:substr`, terms ANDed (space or AND)."""
    for term in [t for t in re.split(r"\s+(?:AND\s+)?", flt.strip()) if t and t != "AND"]:
        m = re.match(r"^labels\.([\w-]+)\s*([:=])\s*\"?([^\"]*)\"?$", term)
        if m:
            k, op, v = m.groups()
            labels = secret.get("labels", {})
            if k not in labels or (op == "=" and labels[k] != v) or (op == ":" and v not in ("*", "") and v not in labels[k]):
                return False
            continue
        m = re.match(r"^name\s*:\s*\"?([^\"]*)\"?$", term)
        if m:
            if m.group(1) not in secret["name"].rsplit("/", 1)[-1]:
                return False
            continue
        raise ApiError(400, f"unsupported filter term: {term}")
    return True


class Api:
    def __init__(self, handler):
        self.h = handler

    def secret(self, m):
        key = f"{parent_name(m)}/secrets/{m['secret']}"
        s = STATE["secrets"].get(key)
        if s is None:
            raise ApiError(404, f"Secret [{key}] not found or has no versions.")
        return s

    def version(self, m, require_enabled=False):
        s = self.secret(m)
        v = m["version"]
        if v == "latest":
            live = [x for x in s["versions"] if x["state"] != "DESTROYED"] or s["versions"]
            if not live:
                raise ApiError(404, f"Secret [{s['meta']['name']}] not found or has no versions.")
            ver = live[-1]
        else:
            found = [x for x in s["versions"] if x["name"].rsplit("/", 1)[-1] == v]
            if not found:
                raise ApiError(404, f"Secret Version [{s['meta']['name']}/versions/{v}] not found.")
            ver = found[0]
        if require_enabled and ver["state"] != "ENABLED":
            raise ApiError(400, f"{ver['name']} is in {ver['state']} state.", "FAILED_PRECONDITION")
        return s, ver

    @staticmethod
    def public(ver):
        return {k: v for k, v in ver.items() if k != "data"}

    def create_secret(self, m, q, body):
        sid = (q.get("secretId") or [""])[0]
        if not re.fullmatch(r"[\w-]{1,255}", sid):
            raise ApiError(400, "secretId is invalid")
        name = f"{parent_name(m)}/secrets/{sid}"
        if name in STATE["secrets"]:
            raise ApiError(409, f"Secret [{name}] already exists.")
        meta = {"name": name, "createTime": now_rfc3339(), "etag": '"1"',
                "replication": body.get("replication") or {"automatic": {}}}
        for field in ("labels", "annotations"):
            if body.get(field):
                meta[field] = body[field]
        STATE["secrets"][name] = {"meta": meta, "versions": []}
        return meta

    def get_secret(self, m, q, body):
        return self.secret(m)["meta"]

    @staticmethod
    def check_etag(meta, etag):
        if etag and etag != meta["etag"]:
            raise ApiError(409, f"The etag provided for [{meta['name']}] does not match the current etag.", "ABORTED")

    def delete_secret(self, m, q, body):
        meta = self.secret(m)["meta"]
        self.check_etag(meta, (q.get("etag") or [""])[0])
        STATE["secrets"].pop(meta["name"])
        return {}

    def update_secret(self, m, q, body):
        meta = self.secret(m)["meta"]
        mask = [f for f in ",".join(q.get("updateMask") or []).split(",") if f]
        if not mask:
            raise ApiError(400, "update_mask is required")
        for field in mask:
            if field not in ApiError.UPDATABLE:
                raise ApiError(400, f"update_mask path {field!r} is not supported")
        self.check_etag(meta, body.get("etag", ""))
        for field in mask:
            if body.get(field):
                meta[field] = body[field]
            else:
                meta.pop(field, None)
        meta["etag"] = f'"{int(meta["etag"].strip(chr(34))) + 1}"'
        return meta

    def list_secrets(self, m, q, body):
        parent = parent_name(m) + "/secrets/"
        flt = (q.get("filter") or [""])[0]
        items = [s["meta"] for k, s in sorted(STATE["secrets"].items())
                 if k.startswith(parent) and "/" not in k[len(parent):] and (not flt or match_filter(s["meta"], flt))]
        return self.page(items, q, "secrets")

    @staticmethod
    def page(items, q, field):
        size = int((q.get("pageSize") or ["25000"])[0] or 25000)
        start = int((q.get("pageToken") or ["0"])[0] or 0)
        out = {}
        if items[start:start + size]:
            out[field] = items[start:start + size]
        if start + size < len(items):
            out["nextPageToken"] = str(start + size)
        out["totalSize"] = len(items)
        return out

    def add_version(self, m, q, body):
        s = self.secret(m)
        payload = body.get("payload") or {}
        data = base64.b64decode(payload.get("data", ""))
        if "dataCrc32c" in payload and int(payload["dataCrc32c"]) != crc32c(data):
            raise ApiError(400, "Checksum mismatch", "INVALID_ARGUMENT")
        ver = {"name": f"{s['meta']['name']}/versions/{len(s['versions']) + 1}",
               "createTime": now_rfc3339(len(s["versions"]) * 1e-3), "state": "ENABLED",
               "etag": '"1"', "clientSpecifiedPayloadChecksum": "dataCrc32c" in payload, "data": data}
        s["versions"].append(ver)
        return self.public(ver)

    def list_versions(self, m, q, body):
        s = self.secret(m)
        flt = (q.get("filter") or [""])[0].replace(" ", "")
        items = [self.public(v) for v in reversed(s["versions"])
                 if not flt or flt == f"state:{v['state']}" or flt == f"state={v['state']}"]
        return self.page(items, q, "versions")

    def get_version(self, m, q, body):
        return self.public(self.version(m)[1])

    def access(self, m, q, body):
        _, ver = self.version(m, require_enabled=True)
        return {"name": ver["name"], "payload": {"data": base64.b64encode(ver["data"]).decode(),
                                                 "dataCrc32c": str(crc32c(ver["data"]))}}

    def version_state(self, m, q, body):
        _, ver = self.version(m)
        action = m["action"]
        if ver["state"] == "DESTROYED":
            raise ApiError(400, f"{ver['name']} is in DESTROYED state.", "FAILED_PRECONDITION")
        ver["state"] = {"enable": "ENABLED", "disable": "DISABLED", "destroy": "DESTROYED"}[action]
        if action == "destroy":
            ver["data"] = b""
            ver["destroyTime"] = now_rfc3339()
        return self.public(ver)


def issue(kind: str, subject: str) -> dict:
    token = f"ya29.fake-{kind}-{secrets.token_urlsafe(18)}"
    STATE["tokens"][token] = {"kind": kind, "subject": subject, "exp": time.time() + TOKEN_TTL}
    STATE["stats"][kind] = STATE["stats"].get(kind, 0) + 1
    return {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL}


def jwt_claims(jwt: str) -> dict:
    parts = jwt.split(".")
    if len(parts) != 3:
        raise ApiError(400, "the assertion is not a JWT", "invalid_grant")
    pad = "=" * (-len(parts[1]) % 4)
    try:
        return json.loads(base64.urlsafe_b64decode(parts[1] + pad))
    except ValueError:
        raise ApiError(400, "the assertion is not a JWT", "invalid_grant") from None


def oauth_error(code: str, message: str) -> ApiError:
    err = ApiError(400, message, code)
    err.oauth = True
    return err


def token_exchange(body: dict, kind: str) -> dict:
    get = lambda *names: next((body[n] for n in names if body.get(n)), "")  # noqa: E731
    if get("grantType", "grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange":
        raise oauth_error("invalid_request", "grant_type must be token-exchange")
    subject = get("subjectToken", "subject_token")
    if not get("audience"):
        raise oauth_error("invalid_request", "audience is required")
    claims = jwt_claims(subject)
    if claims.get("exp", 0) < time.time():
        raise oauth_error("invalid_grant", "the subject token has expired")
    out = issue(kind, claims.get("sub", ""))
    out["issued_token_type"] = "urn:ietf:params:oauth:token-type:access_token"
    return out


class Handler(BaseHTTPRequestHandler):
    server_version = "gcp-fake/1"
    allow_anonymous = True

    def log_message(self, fmt, *args):  # quiet: one line per request to stderr
        print(f"{self.command} {self.path.split('?')[0]} -> {fmt % args}", flush=True)

    def reply(self, code: int, obj) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> dict:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raw = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                raw += self.rfile.read(size)
                self.rfile.readline()
        else:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
        if not raw:
            return {}
        if "x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
            return {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "Invalid JSON payload received.") from None

    def bearer(self) -> dict:
        auth = self.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if not token and self.allow_anonymous:
            return {"kind": "anonymous"}
        info = STATE["tokens"].get(token)
        if not info or info["exp"] < time.time():
            raise ApiError(401, "Request had invalid authentication credentials.")
        return info

    def handle_any(self) -> None:
        try:
            url = urlparse(self.path)
            path, q = unquote(url.path), parse_qs(url.query, keep_blank_values=True)
            with LOCK:
                out = self.dispatch(path, q)
            self.reply(200, out)
        except ApiError as e:
            if getattr(e, "oauth", False):
                self.reply(e.code, {"error": e.status, "error_description": e.message})
            else:
                self.reply(e.code, {"error": {"code": e.code, "message": e.message, "status": e.status}})

    def dispatch(self, path: str, q: dict):
        if path == "/fake/health":
            return {"ok": True}
        if path == "/fake/stats":
            return STATE["stats"]
        if path == "/fake/reset" and self.command == "POST":
            STATE["secrets"].clear(), STATE["tokens"].clear(), STATE["stats"].clear()
            return {}
        if self.command == "POST" and path == "/token":
            body = self.body()
            if body.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
                raise oauth_error("unsupported_grant_type", "Invalid grant_type")
            claims = jwt_claims(body.get("assertion", ""))
            if not claims.get("iss") or claims.get("exp", 0) < time.time() or not claims.get("aud"):
                raise oauth_error("invalid_grant", "Invalid JWT: iss, aud and an unexpired exp are required")
            return issue("oauth2", claims["iss"])
        if self.command == "POST" and path == "/v1/token":
            return token_exchange(self.body(), "sts")
        if self.command == "POST" and path == "/v1/identitybindingtoken":
            return token_exchange(self.body(), "identitybinding")
        m = re.fullmatch(r"/v1/projects/-/serviceAccounts/([^/:]+):generateAccessToken", path)
        if self.command == "POST" and m:
            caller = self.bearer()
            if caller["kind"] not in ("sts", "identitybinding"):
                raise ApiError(403, "The caller does not have permission")
            self.body()
            out = issue("iamcredentials", m.group(1))
            return {"accessToken": out["access_token"], "expireTime": now_rfc3339(TOKEN_TTL).split(".")[0] + "Z"}
        for method, rx, name in ROUTES:
            m = rx.fullmatch(path)
            if m and method == self.command:
                self.bearer()
                body = self.body() if method in ("POST", "PATCH") else {}
                return getattr(Api(self), name)(m, q, body)
        raise ApiError(404, f"no route for {self.command} {path}")

    do_GET = do_POST = do_DELETE = do_PATCH = handle_any


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"gcp-fake on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
