"""ACLED read-API connector: OAuth sign-in, paged JSON reads, an export-shaped CSV for the `acled` adapter.

What ACLED documents (https://acleddata.com/api-documentation/getting-started, "Getting started"),
and what we do with it:

* Sign-in: POST {base}/oauth/token, form-encoded username=<email>, password, grant_type=password,
  client_id=acled, scope=authenticated -> {"token_type": "Bearer", "expires_in": 86400,
  "access_token", "refresh_token"}. Access tokens last 24 h, refresh tokens 14 days. Renewal is
  the same POST with grant_type=refresh_token, refresh_token, client_id=acled. Reads carry
  "Authorization: Bearer <access_token>".
* Reads: GET {base}/api/acled/read?_format=json. Filters are query parameters (country=Georgia),
  `<filter>_where` changes a filter's query type (event_date=a|b&event_date_where=BETWEEN),
  values are OR-ed inside one parameter (country=Georgia:OR:country=Armenia), fields=a|b picks
  columns, and the JSON body has status/success plus the rows in "data". The page's sample export
  has the 31 CSV_COLUMNS below.
* Limits: without limit= a call returns at most 5000 rows, and bigger pulls should page ("Elements
  of ACLED's API" has the details). We send limit=<page_size>&page=N with N counting from 1, as
  ACLED's own R client acledR does (github.com/dtacled/acledR, R/acled_api.R). ACLED stopped
  sending count/total_count unless with_total=true (its notice is quoted in
  github.com/forecastingresearch/forecastbench/issues/188). So a short page ends the pull.
* timestamp: acledR asks for rows "added or updated after" a time with
  timestamp=<unix>&timestamp_where=>=, which is also the filter's default type. We send >= too.
  ACLED stamps rows in batches (the doc's sample repeats one timestamp across rows), so > could
  drop the rest of a batch that was still being published during the previous pull. Re-reading
  the boundary rows is harmless, because the warehouse upserts on (source, event_id_cnty).
"""

from __future__ import annotations

import contextlib
import csv
import email.utils
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from warehouse.atomic import atomic_file
from warehouse.redact import redact

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://acleddata.com"
CSV_COLUMNS = tuple(
    "event_id_cnty event_date year time_precision disorder_type event_type sub_event_type actor1 "
    "assoc_actor_1 inter1 actor2 assoc_actor_2 inter2 interaction civilian_targeting iso region country "
    "admin1 admin2 admin3 location latitude longitude geo_precision source source_scale notes fatalities "
    "tags timestamp".split()
)
TIMESTAMP_WHERE = ">="
_MAX_BACKOFF_S = 300.0
# A Retry-After longer than this means a spent quota, not a busy server: fail and let the next run try.
_MAX_RETRY_AFTER_S = 900.0


class AcledApiError(RuntimeError):
    """Any failure talking to ACLED. The message is one line and never holds credentials or tokens."""


@dataclass
class AcledCredentials:
    email: str
    password: str = field(repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AcledCredentials | None:
        env = os.environ if environ is None else environ
        email_addr, password = env.get("ACLED_EMAIL", "").strip(), env.get("ACLED_PASSWORD", "")
        return cls(email_addr, password) if email_addr and password else None


class AcledClient:
    def __init__(
        self, base_url: str = DEFAULT_BASE_URL, credentials: AcledCredentials | None = None, *,
        timeout: float = 60, page_size: int = 5000, max_retries: int = 4, min_interval_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        creds = credentials or AcledCredentials.from_env()
        if creds is None:
            raise AcledApiError("ACLED credentials missing: set ACLED_EMAIL and ACLED_PASSWORD")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.base_url = base_url.rstrip("/")
        self._creds = creds
        self.timeout, self.page_size, self.max_retries = timeout, page_size, max_retries
        self.min_interval_s, self.sleep, self.clock = min_interval_s, sleep, clock
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at, self._last_request = 0.0, None

    def iter_events(
        self, countries: Sequence[str], since_timestamp: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> Iterator[dict]:
        """Yield every event of `countries` stamped at or after `since_timestamp`, page by page."""
        if not countries:
            raise ValueError("countries must name at least one country")  # an empty filter means the world
        params = {"_format": "json", "country": ":OR:country=".join(countries), "limit": str(self.page_size)}
        if since_timestamp is not None:
            params |= {"timestamp": str(int(since_timestamp)), "timestamp_where": TIMESTAMP_WHERE}
        if fields:
            params["fields"] = "|".join(fields)
        seen: set[str] = set()
        page = 1
        while True:
            rows = self._read_page({**params, "page": str(page)}, page)
            fresh = 0
            for row in rows:
                key = row.get("event_id_cnty")
                if key is not None and key in seen:
                    continue  # rows shift between pages when ACLED publishes mid-pull
                seen.add(key)
                fresh += 1
                yield row
            log.info("ACLED page %d: %d rows, %d new", page, len(rows), fresh)
            if len(rows) < self.page_size:
                return
            if not fresh:
                raise AcledApiError(f"ACLED pagination did not advance at page {page}")
            page += 1

    def fetch_to_csv(
        self, path: str | os.PathLike, countries: Sequence[str], since_timestamp: int | None = None
    ) -> tuple[int, int | None]:
        """Write the pull as an ACLED export CSV, all or nothing; return (rows, max timestamp seen).

        With no rows the watermark stays at `since_timestamp`, so the next run asks the same question."""
        target = Path(path)
        rows, max_ts = 0, since_timestamp
        with atomic_file(target, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, CSV_COLUMNS, restval="", extrasaction="ignore")
            writer.writeheader()
            for event in self.iter_events(countries, since_timestamp, fields=CSV_COLUMNS):
                writer.writerow(event)
                rows += 1
                with contextlib.suppress(TypeError, ValueError):
                    ts = int(event.get("timestamp"))
                    max_ts = ts if max_ts is None else max(max_ts, ts)
        log.info("ACLED: wrote %d rows to %s (max timestamp %s)", rows, target, max_ts)
        return rows, max_ts

    def _read_page(self, params: dict[str, str], page: int) -> list:
        query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        body = self._request("GET", f"{self.base_url}/api/acled/read?{query}", auth=True, what="read")
        try:
            doc = json.loads(body)
        except ValueError:
            raise AcledApiError(f"ACLED returned malformed JSON (page {page})") from None
        if not isinstance(doc, dict):
            raise AcledApiError(f"ACLED returned malformed JSON (page {page})")
        if doc.get("success") is False or str(doc.get("status", 200)) != "200":
            detail = _error_text(doc)
            raise AcledApiError(self._scrub(f"ACLED read refused (page {page}, status {doc.get('status')})"
                                            + (f": {detail}" if detail else "")))
        data = doc.get("data")
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise AcledApiError(f"ACLED returned malformed JSON (page {page}: no list of rows)")
        return data

    def _request(self, method: str, url: str, form: dict | None = None, *, auth: bool = False,
                 what: str = "request") -> bytes:
        renewed, attempt = False, 0
        while True:
            headers = {"Accept": "application/json", "User-Agent": "riskwatch-acled/1"}
            if auth:
                headers["Authorization"] = f"Bearer {self._token()}"
            data = urllib.parse.urlencode(form).encode() if form is not None else None
            if data is not None:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            self._pace()
            status, retry_after, body, reason = None, None, b"", ""
            try:
                req = urllib.request.Request(url, data, headers, method=method)
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return resp.read()
            except urllib.error.HTTPError as err:
                status, retry_after = err.code, err.headers.get("Retry-After")
                with contextlib.suppress(OSError):
                    body = err.read()
                err.close()
            except OSError as err:  # refused, reset, timed out: worth another try
                reason = str(getattr(err, "reason", err))
            if auth and status == 401 and not renewed:
                # Tokens die after 24 h, possibly mid-pull: renew once, then trust the answer.
                log.info("ACLED token rejected; renewing")
                self._renew()
                renewed = True
                continue
            if (status is None or status == 429 or status >= 500) and attempt < self.max_retries:
                delay = self._backoff(attempt, retry_after)
                log.warning("ACLED %s: %s; retrying in %.1fs", what, status or self._scrub(reason), delay)
                self.sleep(delay)
                attempt += 1
                continue
            if status is None:
                raise AcledApiError(self._scrub(f"ACLED {what} failed: {reason}"))
            verb = "refused" if status in (400, 401, 403) else "failed"
            detail = f" ({_error_text(body)})" if _error_text(body) else ""
            raise AcledApiError(self._scrub(f"ACLED {what} {verb}: HTTP {status}{detail}"))

    def _token(self) -> str:
        if self._access is None or self.clock() >= self._expires_at:
            self._renew()
        assert self._access is not None
        return self._access

    def _renew(self) -> None:
        if self._refresh:
            try:
                form = {"grant_type": "refresh_token", "refresh_token": self._refresh, "client_id": "acled"}
                return self._grant(form)
            except AcledApiError:
                log.info("ACLED refresh token refused; signing in again")
        self._grant({"username": self._creds.email, "password": self._creds.password,
                     "grant_type": "password", "client_id": "acled", "scope": "authenticated"})

    def _grant(self, form: dict) -> None:
        body = self._request("POST", f"{self.base_url}/oauth/token", form, what="auth")
        try:
            doc = json.loads(body)
            access = str(doc["access_token"])
            lifetime = float(doc.get("expires_in") or 86400)
        except (ValueError, KeyError, TypeError):
            raise AcledApiError("ACLED auth returned malformed JSON") from None
        self._access = access
        self._refresh = doc.get("refresh_token") or self._refresh
        # Renew a minute early so a token doesn't expire between our check and ACLED's.
        self._expires_at = self.clock() + max(0.0, lifetime - 60)

    def _pace(self) -> None:
        # ACLED publishes no per-second quota; one request a second keeps a big pull polite.
        if self._last_request is not None:
            wait = self.min_interval_s - (self.clock() - self._last_request)
            if wait > 0:
                self.sleep(wait)
        self._last_request = self.clock()

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        delay = min(_MAX_BACKOFF_S, 2.0**attempt)
        hinted = _retry_after_s(retry_after)
        if hinted is not None:
            if hinted > _MAX_RETRY_AFTER_S:
                raise AcledApiError(f"ACLED rate limit: asked to retry after {hinted:.0f}s; giving up")
            delay = max(delay, hinted)
        return delay

    def _scrub(self, text: str) -> str:
        # Error bodies are ACLED's words, not ours; never let them echo a secret (the form body we sent,
        # URL-encoded) back into a log, the Prefect database or ours.
        return " ".join(redact(text, (self._creds.password, self._creds.email, self._access, self._refresh)).split())


def _retry_after_s(value: str | None) -> float | None:
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError):  # the other form RFC 9110 allows: an HTTP date
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    return None


def _error_text(body: bytes | dict) -> str:
    """ACLED's own short reason (OAuth error or API message), if the body is JSON; '' otherwise."""
    try:
        doc = json.loads(body) if isinstance(body, bytes) else body
    except ValueError:
        return ""  # an HTML error page says nothing useful in one line
    if not isinstance(doc, dict):
        return ""
    for key in ("error_description", "error", "message", "messages"):
        value = doc.get(key)
        if isinstance(value, list) and value:
            value = value[0].get("message", value[0]) if isinstance(value[0], dict) else value[0]
        if value:
            return str(value)[:160]
    return ""
