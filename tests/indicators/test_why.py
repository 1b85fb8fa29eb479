"""Why an event counted (indicators/why.py): the tags a definition reads, its reasons on given rows, their text."""

from __future__ import annotations

from indicators import tags, why
from indicators.definitions import load_definitions

KNOWN = {r["tag"] for r in tags.load_rules()}


def test_the_tags_each_definition_counts_by():
    read = {name: why.tags_read(d, KNOWN) for name, d in load_definitions().items()}
    assert read == {
        "baloch_separatist_attacks": ["actor:baloch_separatist"],
        "chinese_nationals_attacks": ["target:chinese_nationals"],
        "cpec_energy_attacks": ["target:cpec_energy"], "cross_border_strikes": ["cross_border_strike"],
        "interstate_clashes": ["interstate_clash"], "political_violence_events": [],
        "political_violence_events_baseline": [], "political_violence_fatalities": [],
        "suicide_attacks": ["suicide_attack"]}


def test_every_source_of_one_event_gives_its_reason(con):
    """One real strike, two records: BIJ's coded perpetrator and UCDP's headline. Both say why; the event's other
    tag (foreign_dyad_event) is not why it counted as a strike."""
    con.execute("CREATE TEMP TABLE ev AS SELECT * FROM (VALUES "
                "('bij:1', 'bij:1', 'bij_drone_strikes', 'Air/drone strike', 'North Waziristan', 'PK-KP'), "
                "('ucdp:9', 'bij:1', 'ucdp', 'State-based conflict', 'Federally Administered Tribal Areas', 'PK-KP')) "
                "t(incident_id, event_key, source, event_type, admin1, admin1_code)")
    con.execute("CREATE TEMP TABLE tg AS SELECT * FROM (VALUES "
                "('bij:1', 'cross_border_strike', 'USA->PAK', "
                "'perpetrator_iso3=USA; sql: origin_iso3 <> country_iso3', 'coded'), "
                "('ucdp:9', 'cross_border_strike', 'USA->PAK', 'source_reference ~ \"US drones\"', 'text'), "
                "('ucdp:9', 'foreign_dyad_event', 'AFG:PAK', 'actor1=Government of Afghanistan', 'dyad')) "
                "t(incident_id, tag, detail, evidence, confidence)")
    sql = why.reasons_sql("tg", "ev", "'bij:1'", ["cross_border_strike"])
    reasons = con.execute(f"SELECT {sql}").fetchone()[0]
    assert [why.reason_text(r) for r in reasons] == [
        'cross_border_strike USA->PAK: coded, perpetrator_iso3=USA (bij_drone_strikes)',
        'cross_border_strike USA->PAK: text, "US drones" in source_reference (ucdp)']
    every = con.execute(f"SELECT {why.reasons_sql('tg', 'ev', chr(39) + 'bij:1' + chr(39), None)}").fetchone()[0]
    assert len(every) == 3 and why.reason_text(every[2], {"foreign_dyad_event": "Foreign dyad"}) == (
        "Foreign dyad AFG:PAK: dyad, actor1=Government of Afghanistan (ucdp)")
    # A definition that reads no tag: the kept record's coded type and province code.
    coded = con.execute(f"SELECT {why.reasons_sql('tg', 'ev', chr(39) + 'bij:1' + chr(39), [])}").fetchone()[0]
    assert [why.reason_text(r) for r in coded] == [
        "coded, in the query of coded fields: event_type=Air/drone strike; admin1=North Waziristan -> PK-KP "
        "(bij_drone_strikes)"]


def test_evidence_text():
    assert why.evidence_text('notes ~ "Chinese engineers"; actor2=Civilians (China)') == (
        '"Chinese engineers" in notes; actor2=Civilians (China)')
    assert why.evidence_text("sql: origin_iso3 <> country_iso3") == "sql: origin_iso3 <> country_iso3"
    assert why.evidence_text(None) == ""
    assert why.reason_text({"tag": "suicide_attack", "evidence": None, "confidence": "coded"}) == (
        "suicide_attack: coded, no evidence recorded")
