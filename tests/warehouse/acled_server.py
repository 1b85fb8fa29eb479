"""A local stand-in for ACLED's API, on 127.0.0.1, so the connector's tests never touch the network.

It speaks the protocol documented on ACLED's "Getting started" page (see the docstring of
warehouse/sources/acled_api.py): form-encoded OAuth at /oauth/token, bearer-token reads at
/api/acled/read?_format=json with `country` (":OR:"-joined), `timestamp` + `timestamp_where`,
`fields`, `limit` and 1-based `page`. It records every request, and can be told to answer the
next reads with a 429 (with Retry-After), a 5xx, a 401 or a non-JSON body, or to expire every
token it has issued.
"""

from __future__ import annotations

import json
import operator
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_OPS = {"=": operator.eq, ">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le}


@dataclass
class Recorded:
    method: str
    path: str
    raw_path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    status: int = 0


@dataclass
class _Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


class AcledTestServer:
    def __init__(self, events: list[dict] | None = None, *, email: str = "analyst@example.org",
                 password: str = "correct horse battery", expires_in: int = 86400) -> None:
        self.events = list(events or [])
        self.email, self.password, self.expires_in = email, password, expires_in
        self.requests: list[Recorded] = []
        self._faults: list[_Fault | None] = []  # None lets one read through untouched
        self._access: set[str] = set()
        self._refresh: set[str] = set()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> AcledTestServer:
        # A short poll keeps shutdown() from costing half a second per test.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> AcledTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # One-shot faults, consumed in order by the next /api/acled/read requests.
    def fail_next_read(self, status: int, *, retry_after: str | None = None, times: int = 1,
                       after: int = 0) -> None:
        """Answer `times` reads with `status`, after letting `after` reads through."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        body = json.dumps({"status": status, "success": False, "message": f"simulated {status}"}).encode()
        with self._lock:
            self._faults += [None] * after + [_Fault(status, headers, body) for _ in range(times)]

    def garble_next_read(self) -> None:
        with self._lock:
            self._faults.append(_Fault(200, {}, b"<html>upstream hiccup</html>"))

    def expire_tokens(self) -> None:
        with self._lock:
            self._access.clear()

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            self._refresh.clear()

    def reads(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/api/acled/read"]

    def token_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/oauth/token"]

    # -- protocol -------------------------------------------------------------------------

    def _handler_class(server) -> type[BaseHTTPRequestHandler]:  # noqa: N805 - closes over the server
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                server._handle(self, "POST")

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        form = {}
        if handler.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            form = {k: v[-1] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        rec = Recorded(method, url.path, handler.path, query, form, dict(handler.headers))
        with self._lock:
            self.requests.append(rec)
        if url.path == "/oauth/token" and method == "POST":
            status, headers, body = self._token(form)
        elif url.path == "/api/acled/read" and method == "GET":
            status, headers, body = self._read(query, handler.headers.get("Authorization", ""))
        else:
            status, headers, body = 404, {}, b'{"message": "Not found"}'
        rec.status = status
        handler.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _token(self, form: dict[str, str]) -> tuple[int, dict, bytes]:
        def oauth_error(code: str, text: str) -> tuple[int, dict, bytes]:
            return 400, {}, json.dumps({"error": code, "error_description": text}).encode()

        if form.get("client_id") != "acled":
            return oauth_error("invalid_client", "Client authentication failed")
        grant = form.get("grant_type")
        with self._lock:
            if grant == "password":
                if form.get("scope") != "authenticated":
                    return oauth_error("invalid_scope", "The requested scope is invalid.")
                if form.get("username") != self.email or form.get("password") != self.password:
                    return oauth_error("invalid_grant", "The user credentials were incorrect.")
            elif grant == "refresh_token":
                if form.get("refresh_token") not in self._refresh:
                    return oauth_error("invalid_grant", "The refresh token is invalid.")
                self._refresh.discard(form["refresh_token"])  # refresh tokens rotate on use
            else:
                return oauth_error("unsupported_grant_type", "The authorization grant type is not supported.")
            access, refresh = secrets.token_hex(16), secrets.token_hex(16)
            self._access.add(access)
            self._refresh.add(refresh)
        doc = {"token_type": "Bearer", "expires_in": self.expires_in,
               "access_token": access, "refresh_token": refresh}
        return 200, {}, json.dumps(doc).encode()

    def _read(self, query: dict[str, str], authorization: str) -> tuple[int, dict, bytes]:
        def error(status: int, message: str) -> tuple[int, dict, bytes]:
            return status, {}, json.dumps({"status": status, "success": False, "message": message}).encode()

        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
            token_ok = authorization.startswith("Bearer ") and authorization[7:] in self._access
        if fault is not None:
            return fault.status, fault.headers, fault.body or b""
        if not token_ok:
            return error(401, "Access token is missing, invalid or expired")
        if query.get("_format", "json") != "json":
            return error(400, "Only _format=json is simulated")
        rows = self.events
        if "country" in query:
            wanted = {v.removeprefix("country=") for v in query["country"].split(":OR:")}
            rows = [r for r in rows if r.get("country") in wanted]
        if "timestamp" in query:
            where = query.get("timestamp_where", ">=")  # >= is the timestamp filter's default type
            if where.upper() == "BETWEEN":
                low, _, high = query["timestamp"].partition("|")
                rows = [r for r in rows if int(low) <= int(r["timestamp"]) <= int(high)]
            elif where in _OPS:
                rows = [r for r in rows if _OPS[where](int(r["timestamp"]), int(query["timestamp"]))]
            else:
                return error(400, f"Unknown timestamp_where {where!r}")
        rows = sorted(rows, key=lambda r: r.get("event_id_cnty", ""))
        rows = sorted(rows, key=lambda r: r.get("event_date", ""), reverse=True)  # ACLED: newest first
        limit, page = int(query.get("limit", 5000)), int(query.get("page", 1))
        chunk = rows if limit == 0 else rows[(page - 1) * limit: page * limit]
        if "fields" in query:
            keep = query["fields"].split("|")
            chunk = [{k: r[k] for k in keep if k in r} for r in chunk]
        doc: dict = {"status": 200, "success": True, "last_update": 0, "messages": [], "data": chunk}
        if query.get("with_total") == "true":
            doc |= {"count": len(chunk), "total_count": len(rows)}
        return 200, {}, json.dumps(doc).encode()
