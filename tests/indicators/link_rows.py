"""Rows in the real shapes of the UCDP GED (old schema), GTD subset and BIJ files, for linking tests.

Values are invented for the tests (only the column layouts are the sources'); ingest them with load().
"""

from __future__ import annotations

import datetime as dt

from tests.conftest import write_csv
from validation.ingest import ingest_file

TODAY = dt.date(2025, 12, 31)


def ucdp(id_: str, date: str, lat: float, lon: float, *, side_a="Government of United States of America",
         side_b="al-Qaida", violence="1", headline="", deaths="4", date_prec="1", where_prec="1",
         adm_1="Federally Administered Tribal Areas", adm_2="North Waziristan", end: str | None = None) -> dict:
    us = lambda d: dt.date.fromisoformat(d).strftime("%m/%d/%Y 00:00:00")  # noqa: E731
    return {"id": id_, "date_start": us(date), "date_end": us(end or date), "country": "Pakistan",
            "latitude": lat, "longitude": lon, "side_a": side_a, "side_b": side_b, "best_est": deaths,
            "high_est": deaths, "low_est": deaths, "date_prec": date_prec, "where_prec": where_prec,
            "adm_1": adm_1, "adm_2": adm_2, "type_of_violence": violence, "source_headline": headline,
            "where_description": "", "source_article": "", "source_original": ""}


def gtd(date: str, lat: float, lon: float, *, city="Miranshah", gname="Tehrik-i-Taliban Pakistan (TTP)",
        attack="Bombing/Explosion", corp1="Police checkpoint", nkill="4",
        provstate="Federally Administered Tribal Areas",
        **extra) -> dict:
    y, m, d = date.split("-")
    row = {"iyear": y, "imonth": str(int(m)), "iday": str(int(d)), "provstate": provstate, "city": city,
           "latitude": lat, "longitude": lon, "multiple": "0", "attacktype1_txt": attack, "targtype1_txt": "Police",
           "corp1": corp1, "gname": gname, "weaptype1_txt": "Explosives", "nkill": nkill}
    row.update(extra)
    return row


def bij(strike: str, date: str, lat: float, lon: float, *, agency="NWA", location="Datta Khel", killed="4") -> dict:
    d = dt.date.fromisoformat(date)
    return {"Strike": strike, "Date": f"{d.day}/{d.month}/{d.year}", "Tribal Agency": agency, "Location": location,
            "Latitude": lat, "Longitude": lon, "Minimum Total Reported Killed": killed,
            "Maximum Total Reported Killed": killed}


def load(con, tmp_path, source: str, rows: list[dict], name: str | None = None):
    columns = list(dict.fromkeys(k for r in rows for k in r))
    path = write_csv(tmp_path / (name or f"{source}.csv"), rows, columns)
    return ingest_file(con, path, source, as_of=TODAY)
