"""The ACLED connector against a local server that speaks ACLED's documented protocol; no real network."""

from __future__ import annotations

import csv
import logging
import socket

import pytest

from tests.warehouse.acled_server import AcledTestServer
from warehouse.sources.acled_api import CSV_COLUMNS, AcledApiError, AcledClient, AcledCredentials

EMAIL = "analyst@example.org"
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Any connection that is not to the local server is a bug in the test or the client."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        assert address[0] in ("127.0.0.1", "localhost"), f"real network access attempted: {address}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


def make_events(n, *, country="Pakistan", prefix="PAK", ts0=1_700_000_000, iso="586"):
    events = []
    for i in range(n):
        event = dict.fromkeys(CSV_COLUMNS, "")
        event.update(
            event_id_cnty=f"{prefix}{i:04d}", event_date=f"2024-03-{1 + i % 28:02d}", year="2024",
            time_precision="1", disorder_type="Political violence", event_type="Battles",
            sub_event_type="Armed clash", actor1="Military Forces", iso=iso, region="Southern Asia",
            country=country, admin1="Punjab", location="Lahore", latitude="31.5497", longitude="74.3436",
            geo_precision="1", source="Dawn", source_scale="National", fatalities=str(i % 4),
            notes=f'On {i} March, clash, "quoted"\nsecond line', timestamp=str(ts0 + i),
        )
        events.append(event)
    return events


@pytest.fixture
def server():
    with AcledTestServer(make_events(12), email=EMAIL, password=PASSWORD) as srv:
        yield srv


def client_for(srv, sleeps=None, **overrides):
    options = {"page_size": 5, "min_interval_s": 0.0, "sleep": (sleeps if sleeps is not None else []).append}
    options.update(overrides)
    return AcledClient(srv.base_url, AcledCredentials(EMAIL, PASSWORD), **options)


def test_pages_through_every_event_exactly_once(server):
    server.events += make_events(3, country="India", prefix="IND", iso="356")
    got = list(client_for(server).iter_events(["Pakistan"], None))

    ids = [e["event_id_cnty"] for e in got]
    assert sorted(ids) == [f"PAK{i:04d}" for i in range(12)]
    assert len(ids) == len(set(ids))
    reads = server.reads()
    assert [r.query["page"] for r in reads] == ["1", "2", "3"]
    assert {r.query["limit"] for r in reads} == {"5"}
    assert {(r.query["_format"], r.query["country"]) for r in reads} == {("json", "Pakistan")}
    assert all(r.headers["Authorization"].startswith("Bearer ") for r in reads)
    assert all(PASSWORD not in r.raw_path and "Bearer" not in r.raw_path for r in server.requests)


def test_a_full_last_page_is_followed_by_one_empty_page(server):
    server.events = make_events(10)
    got = list(client_for(server).iter_events(["Pakistan"]))
    assert len(got) == 10
    assert [r.query["page"] for r in server.reads()] == ["1", "2", "3"]


def test_several_countries_use_the_documented_or_syntax(server):
    server.events += make_events(2, country="India", prefix="IND")
    server.events += make_events(2, country="Nepal", prefix="NPL")
    got = list(client_for(server, page_size=100).iter_events(["Pakistan", "India"]))
    assert server.reads()[0].query["country"] == "Pakistan:OR:country=India"
    assert {e["country"] for e in got} == {"Pakistan", "India"} and len(got) == 14


def test_incremental_pull_sends_and_honours_the_timestamp_filter(server, tmp_path):
    client = client_for(server)
    rows, watermark = client.fetch_to_csv(tmp_path / "first.csv", ["Pakistan"], None)
    assert (rows, watermark) == (12, 1_700_000_011)
    assert all("timestamp" not in r.query for r in server.reads())

    server.events += make_events(3, prefix="NEW", ts0=1_800_000_000)
    newer = list(client.iter_events(["Pakistan"], since_timestamp=watermark))
    last = server.reads()[-1].query
    assert (last["timestamp"], last["timestamp_where"]) == ("1700000011", ">=")
    # >= re-reads the boundary batch (the warehouse upserts it as unchanged) and nothing older.
    assert sorted(e["event_id_cnty"] for e in newer) == ["NEW0000", "NEW0001", "NEW0002", "PAK0011"]

    only_new = list(client.iter_events(["Pakistan"], since_timestamp=1_750_000_000))
    assert sorted(e["event_id_cnty"] for e in only_new) == ["NEW0000", "NEW0001", "NEW0002"]


def test_429_waits_as_long_as_retry_after_then_succeeds(server):
    server.fail_next_read(429, retry_after="7")
    sleeps = []
    got = list(client_for(server, sleeps).iter_events(["Pakistan"]))
    assert len(got) == 12
    assert sleeps == [7.0]  # Retry-After beats the 1 s first backoff step
    assert [r.status for r in server.reads()] == [429, 200, 200, 200]
    assert [r.query["page"] for r in server.reads()] == ["1", "1", "2", "3"]


def test_5xx_is_retried_with_exponential_backoff(server):
    server.fail_next_read(500, times=2)
    sleeps = []
    assert len(list(client_for(server, sleeps).iter_events(["Pakistan"]))) == 12
    assert sleeps == [1.0, 2.0]


def test_gives_up_after_max_retries_with_a_one_line_error(server):
    server.fail_next_read(503, times=3)
    sleeps = []
    with pytest.raises(AcledApiError) as err:
        list(client_for(server, sleeps, max_retries=2).iter_events(["Pakistan"]))
    assert str(err.value) == "ACLED read failed: HTTP 503 (simulated 503)"
    assert sleeps == [1.0, 2.0]


def test_expired_token_is_refreshed_with_the_refresh_grant(server):
    client = client_for(server)
    list(client.iter_events(["Pakistan"]))
    server.expire_tokens()
    assert len(list(client.iter_events(["Pakistan"]))) == 12
    assert [r.form["grant_type"] for r in server.token_requests()] == ["password", "refresh_token"]
    assert [r.status for r in server.reads()][3:5] == [401, 200]


def test_refused_refresh_falls_back_to_a_password_grant(server):
    client = client_for(server)
    list(client.iter_events(["Pakistan"]))
    server.expire_tokens()
    server.revoke_refresh_tokens()
    assert len(list(client.iter_events(["Pakistan"]))) == 12
    grants = [r.form["grant_type"] for r in server.token_requests()]
    assert grants == ["password", "refresh_token", "password"]


def test_a_second_401_after_renewal_is_an_error(server):
    server.fail_next_read(401, times=2)
    with pytest.raises(AcledApiError, match=r"^ACLED read refused: HTTP 401"):
        list(client_for(server).iter_events(["Pakistan"]))
    assert len(server.token_requests()) == 2


def test_wrong_password_is_refused_without_leaking_it(server, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "Wr0ng-p4ssw0rd!"
    client = AcledClient(server.base_url, AcledCredentials(EMAIL, secret), min_interval_s=0, sleep=[].append)
    with pytest.raises(AcledApiError) as err:
        list(client.iter_events(["Pakistan"]))
    message = str(err.value)
    assert message == "ACLED auth refused: HTTP 400 (The user credentials were incorrect.)"
    assert secret not in message and secret not in repr(err.value) and "\n" not in message
    assert secret not in caplog.text and secret not in repr(AcledCredentials(EMAIL, secret))
    assert server.token_requests()[0].form["scope"] == "authenticated"
    assert server.reads() == []


def test_malformed_json_is_an_acled_api_error(server):
    server.garble_next_read()
    with pytest.raises(AcledApiError, match=r"^ACLED returned malformed JSON \(page 1\)$"):
        list(client_for(server).iter_events(["Pakistan"]))


def test_csv_has_the_export_header_and_round_trips(server, tmp_path):
    target = tmp_path / "acled" / "pakistan.csv"
    rows, max_ts = client_for(server).fetch_to_csv(target, ["Pakistan"], None)

    assert (rows, max_ts) == (12, 1_700_000_011)
    assert target.read_text(encoding="utf-8").splitlines()[0] == ",".join(CSV_COLUMNS)
    with target.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == CSV_COLUMNS
        written = {row["event_id_cnty"]: row for row in reader}
    assert written == {e["event_id_cnty"]: e for e in server.events}
    assert server.reads()[0].query["fields"] == "|".join(CSV_COLUMNS)
    assert [p.name for p in target.parent.iterdir()] == ["pakistan.csv"]  # no temp file left


def test_an_empty_pull_keeps_the_watermark(server, tmp_path):
    rows, max_ts = client_for(server).fetch_to_csv(tmp_path / "none.csv", ["Pakistan"], 1_900_000_000)
    assert (rows, max_ts) == (0, 1_900_000_000)
    assert (tmp_path / "none.csv").read_text(encoding="utf-8").strip() == ",".join(CSV_COLUMNS)


def test_a_failed_pull_leaves_the_previous_csv_untouched(server, tmp_path):
    target = tmp_path / "pakistan.csv"
    target.write_text("previous export\n", encoding="utf-8")
    server.fail_next_read(500, after=1)  # page 1 arrives, page 2 fails: half an export must not land
    with pytest.raises(AcledApiError, match="HTTP 500"):
        client_for(server, max_retries=0).fetch_to_csv(target, ["Pakistan"], None)
    assert [r.status for r in server.reads()] == [200, 500]
    assert target.read_text(encoding="utf-8") == "previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["pakistan.csv"]


def test_requests_are_spaced_by_min_interval(server):
    now = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    client = client_for(server, min_interval_s=1.0, sleep=sleep, clock=lambda: now[0])
    assert len(list(client.iter_events(["Pakistan"]))) == 12
    assert len(server.requests) == 4  # sign-in + 3 pages
    assert sleeps == [1.0, 1.0, 1.0]


def test_credentials_come_from_the_environment(monkeypatch):
    assert AcledCredentials.from_env({}) is None
    assert AcledCredentials.from_env({"ACLED_EMAIL": EMAIL}) is None
    creds = AcledCredentials.from_env({"ACLED_EMAIL": f" {EMAIL} ", "ACLED_PASSWORD": PASSWORD})
    assert creds == AcledCredentials(EMAIL, PASSWORD) and PASSWORD not in repr(creds)
    monkeypatch.delenv("ACLED_EMAIL", raising=False)
    monkeypatch.delenv("ACLED_PASSWORD", raising=False)
    with pytest.raises(AcledApiError, match="ACLED_EMAIL and ACLED_PASSWORD"):
        AcledClient("http://127.0.0.1:9")


def test_the_acled_adapter_ingests_the_export_and_the_overlap_is_unchanged(server, tmp_path):
    from validation.ingest import ingest_file
    from warehouse import db

    client = client_for(server)
    con = db.connect(":memory:")
    _, watermark = client.fetch_to_csv(tmp_path / "full.csv", ["Pakistan"], None)
    first = ingest_file(con, tmp_path / "full.csv", "acled")
    assert (first.status, first.inserted, first.rejected) == ("success", 12, 0)

    server.events += make_events(2, prefix="NEW", ts0=1_800_000_000)
    client.fetch_to_csv(tmp_path / "delta.csv", ["Pakistan"], watermark)
    delta = ingest_file(con, tmp_path / "delta.csv", "acled")
    # The boundary row that >= re-reads lands as unchanged, not as a duplicate.
    assert (delta.inserted, delta.unchanged, delta.rejected) == (2, 1, 0)
    notes = con.execute("SELECT notes FROM incident_current WHERE source_event_id = 'PAK0003'").fetchone()[0]
    assert notes == 'On 3 March, clash, "quoted"\nsecond line'
