"""Episodes (GTD rows of one attack count once where a definition counts episodes) and coded nationality."""

from __future__ import annotations

import datetime as dt

from indicators.refresh import refresh
from tests.indicators.link_rows import gtd, load

WATCHED = ["PAK"]


def full_export(eventid: str, *, natlty1="Pakistan", natlty2="", related="", multiple="0", target2="",
                summary="Assailants opened fire on a vehicle in Quetta.") -> dict:
    """A row in the shape of the full GTD export (eventid, country_txt, natlty1..3, related, summary)."""
    return {"eventid": eventid, "iyear": eventid[:4], "imonth": str(int(eventid[4:6])), "iday": str(int(eventid[6:8])),
            "country_txt": "Pakistan", "provstate": "Balochistan", "city": "Quetta", "latitude": "30.18",
            "longitude": "66.99", "multiple": multiple, "related": related,
            "attacktype1_txt": "Hostage Taking (Kidnapping)",
            "targtype1_txt": "Private Citizens & Property", "corp1": "Civilians", "target1": "Teachers",
            "natlty1_txt": natlty1, "target2": target2, "natlty2_txt": natlty2, "natlty3_txt": "",
            "gname": "Khorasan Chapter of the Islamic State", "weaptype1_txt": "Firearms", "nkill": "0",
            "summary": summary}


def quarter(con, name: str) -> dict:
    return dict(con.execute("SELECT strftime(period_start, '%Y-%m'), value FROM indicator_values WHERE indicator = ? "
                            "AND grain = 'quarter' AND value > 0", [name]).fetchall())


def test_full_export_second_target_nationality_china_is_an_attack_on_chinese_nationals(con, tmp_path):
    load(con, tmp_path, "gtd", [full_export("201705240001", natlty2="China", target2="Chinese teachers",
                                            summary="Gunmen abducted two foreign teachers in Quetta."),
                                full_export("201706020001")])   # Pakistani targets only
    refresh(con, dt.date(2017, 12, 31), watched=WATCHED)
    got = con.execute("SELECT target_nationality FROM incidents WHERE source_event_id = '201705240001'").fetchone()
    assert got == ("Pakistan; China",)
    assert quarter(con, "chinese_nationals_attacks") == {"2017-04": 1}


def test_two_row_related_episode_counts_once_where_the_definition_counts_episodes(con, tmp_path):
    rows = [full_export("201207230001", natlty1="China", multiple="1", related="201207230001, 201207230002"),
            full_export("201207230002", natlty1="China", multiple="1", related="201207230001, 201207230002"),
            full_export("201208150001", natlty1="China")]
    load(con, tmp_path, "gtd", rows)
    refresh(con, dt.date(2012, 12, 31), watched=WATCHED)
    episodes = con.execute("SELECT source_event_id, episode_id FROM incidents ORDER BY 1").fetchall()
    assert episodes[0][1] == episodes[1][1] == "episode:gtd:201207230001" and episodes[2][1] is None
    assert quarter(con, "chinese_nationals_attacks") == {"2012-07": 2}      # two attacks, not three rows
    # Definitions that count events still count each row (political violence in Balochistan that week).
    assert con.execute("SELECT sum(value) FROM indicator_values WHERE indicator = 'political_violence_events' "
                       "AND grain = 'week'").fetchone() == (3,)


def test_subset_rows_flagged_multiple_on_one_day_province_and_group_are_one_episode(con, tmp_path):
    load(con, tmp_path, "gtd", [
        gtd("2012-07-23", 24.86, 67.01, city="Karachi", provstate="Sindh", gname="Unknown", multiple="1",
            corp1="Chinese Ministry of Foreign Affairs"),
        gtd("2012-07-23", 24.87, 67.02, city="Karachi", provstate="Sindh", gname="Unknown", multiple="1",
            corp1="Chinese Ministry of Foreign Affairs"),
        gtd("2012-07-23", 30.18, 66.99, city="Quetta", provstate="Balochistan", gname="Unknown", multiple="1"),
    ])
    refresh(con, dt.date(2012, 12, 31), watched=WATCHED)
    got = con.execute("SELECT city, episode_id FROM (SELECT location AS city, episode_id FROM incidents) "
                      "ORDER BY city").fetchall()
    assert got[0][1] == got[1][1] is not None and got[2] == ("Quetta", None)
    assert quarter(con, "chinese_nationals_attacks") == {"2012-07": 1}
