"""Fast, deterministic generator of synthetic ACLED-shaped CSV exports for benchmarks.

    python bench/generate.py --rows 1000000 --out /tmp/acled_1e6.csv [--seed 1]
    python bench/generate.py --revise-from /tmp/acled_1e6.csv --revise-fraction 0.01 --out /tmp/rev.csv

The file is written by one streaming DuckDB ``COPY (SELECT ... FROM range(n))``: every random choice is
``hash(row, seed, k)`` indexing list literals, so output is reproducible and memory stays bounded.
"""

from __future__ import annotations

import argparse
import os
import time

import duckdb

COLUMNS = (
    "event_id_cnty,event_date,year,time_precision,disorder_type,event_type,sub_event_type,actor1,assoc_actor_1,"
    "inter1,actor2,assoc_actor_2,inter2,interaction,civilian_targeting,iso,region,country,admin1,admin2,admin3,"
    "location,latitude,longitude,geo_precision,source,source_scale,notes,fatalities,tags,timestamp"
).split(",")
# name, id prefix, ISO numeric, ACLED region, weight per 1000, places "admin1/admin2/location/lat/lon;..."
# (empty location = admin2), rebel groups (most active first; Afghanistan's Taliban only before 2021-08-15),
# sources.
COUNTRIES = [
    ("Pakistan", "PAK", 586, "Southern Asia", 600,
     "Khyber Pakhtunkhwa/Peshawar//34.008/71.578;Khyber Pakhtunkhwa/North Waziristan/Miran Shah/33.00/70.07;"
     "Khyber Pakhtunkhwa/South Waziristan/Wana/32.299/69.573;Khyber Pakhtunkhwa/Bannu//32.986/70.604;"
     "Khyber Pakhtunkhwa/Dera Ismail Khan//31.832/70.902;Khyber Pakhtunkhwa/Bajaur/Khar/34.717/71.523;"
     "Khyber Pakhtunkhwa/Khyber/Bara/33.913/71.463;Khyber Pakhtunkhwa/Lakki Marwat//32.607/70.911;"
     "Balochistan/Quetta//30.184/67.000;Balochistan/Kech/Turbat/26.003/63.048;Balochistan/Gwadar//25.126/62.325;"
     "Balochistan/Panjgur//26.964/64.093;Balochistan/Kalat//29.026/66.590;Sindh/Hyderabad//25.396/68.377;"
     "Sindh/Karachi South/Karachi/24.861/67.010;Sindh/Sukkur//27.706/68.857;Punjab/Lahore//31.549/74.343;"
     "Punjab/Rawalpindi//33.600/73.048;Punjab/Faisalabad//31.417/73.079;Punjab/Multan//30.197/71.475;"
     "Islamabad Capital Territory/Islamabad//33.694/73.064;Azad Kashmir/Muzaffarabad//34.370/73.471;"
     "Gilgit-Baltistan/Gilgit//35.920/74.308",
     "TTP: Tehreek-i-Taliban Pakistan;BLA: Baloch Liberation Army;BLF: Baloch Liberation Front;"
     "IS-K: Islamic State (Khorasan Province);Hafiz Gul Bahadur Group;LeJ: Lashkar-e-Jhangvi",
     "Dawn;The News International;Express Tribune;Pakistan Today;The Balochistan Post;Khorasan Diary"),
    ("Afghanistan", "AFG", 4, "Caucasus and Central Asia", 180,
     "Kabul/Kabul//34.527/69.178;Nangarhar/Jalalabad//34.431/70.447;Kandahar/Kandahar//31.611/65.710;"
     "Helmand/Lashkargah/Lashkar Gah/31.593/64.371;Kunar/Asadabad//34.873/71.147;Kunduz/Kunduz//36.73/68.87;"
     "Balkh/Mazar-e-Sharif//36.709/67.110;Herat/Herat//34.352/62.204;Paktika/Barmal//32.743/69.260;"
     "Khost/Khost//33.339/69.920;Ghazni/Ghazni//33.549/68.421",
     "Taliban;IS-K: Islamic State (Khorasan Province);NRF: National Resistance Front;"
     "AFF: Afghanistan Freedom Front", "Pajhwok Afghan News;Khaama Press;Afghanistan International;Reuters"),
    ("Iran", "IRN", 364, "Middle East", 80,
     "Sistan and Baluchestan/Zahedan//29.496/60.863;Sistan and Baluchestan/Saravan//27.371/62.334;"
     "Sistan and Baluchestan/Chabahar//25.292/60.643;Tehran/Tehran//35.689/51.389;"
     "Kurdistan/Sanandaj//35.314/46.998;Khuzestan/Ahvaz//31.318/48.671;Isfahan/Isfahan//32.653/51.667",
     "Jaish al-Adl;PJAK: Kurdistan Free Life Party;IS-K: Islamic State (Khorasan Province)",
     "Haalvsh;Iran International;HRANA;Kurdistan Human Rights Network;Reuters"),
    ("India", "IND", 356, "Southern Asia", 140,
     "Jammu and Kashmir/Srinagar//34.084/74.797;Jammu and Kashmir/Anantnag//33.730/75.150;"
     "Manipur/Imphal West/Imphal/24.817/93.937;Punjab/Amritsar//31.634/74.872;Delhi/New Delhi//28.614/77.209;"
     "Maharashtra/Mumbai City/Mumbai/18.940/72.835;Chhattisgarh/Bijapur//18.843/80.777;"
     "West Bengal/Kolkata//22.573/88.364",
     "CPI (Maoist): Communist Party of India (Maoist);JeM: Jaish-e-Mohammad;LeT: Lashkar-e-Taiba;"
     "PLA: Peoples Liberation Army of Manipur", "Times of India;The Hindu;Greater Kashmir;Imphal Free Press"),
]
SCALES = [("National", 45), ("Subnational", 20), ("Local partner-National", 12), ("International", 8),
          ("National-International", 8), ("New media", 4), ("Other-National", 3)]
EVENT_TYPES = {"P": "Protests", "R": "Riots", "B": "Battles", "E": "Explosions/Remote violence",
               "V": "Violence against civilians", "S": "Strategic developments"}
DISORDER = {"D": "Demonstrations", "V": "Political violence", "S": "Strategic developments",
            "X": "Political violence; Demonstrations"}
# Actor kinds: S military, P police, R rebel group, U unidentified armed group, C civilians, D protesters,
# T rioters, X foreign military (Iranian cross-border strikes), N none. Columns: event type + disorder codes |
# sub_event_type | weight per 1000 | actor1+actor2 kinds | P(no deaths) % | geometric q of deaths | note
PAIRS = [line.split("|") for line in """\
PD|Peaceful protest|320|DN|100|0|{a1} held a demonstration against {g} at {loc}.
PD|Protest with intervention|25|DP|99|0.2|{a1} staged a sit-in against {g} at {loc}; {a2} dispersed them.
PX|Excessive force against protesters|5|PD|70|0.4|{a1} opened fire on {a2} protesting {g} at {loc}.
RD|Violent demonstration|35|TP|97|0.3|{a1} protesting {g} pelted {a2} with stones and burnt tyres at {loc}.
RV|Mob violence|15|TC|80|0.3|A mob of {a1} beat {a2} over an alleged blasphemy accusation at {loc}.
BV|Armed clash|185|SR|45|0.7|{a1} clashed with {a2} during an intelligence-based operation at {loc}.
BV|Government regains territory|5|SR|50|0.7|{a1} regained several posts from {a2} near {loc}.
BV|Non-state actor overtakes territory|10|RS|40|0.6|{a1} overran a check post held by {a2} near {loc}.
EV|Remote explosive/landmine/IED|80|RS|55|0.6|{a1} detonated an IED targeting {a2} at {loc}.
EV|Air/drone strike|40|SR|40|0.7|{a1} carried out a strike on hideouts of {a2} at {loc}.
EV|Shelling/artillery/missile attack|55|SR|75|0.5|{a1} fired mortar shells at {a2} near {loc}.
EV|Grenade|15|UC|70|0.4|{a1} hurled a hand grenade at a house of {a2} at {loc}.
EV|Suicide bomb|10|RS|15|0.9|A suicide bomber of {a1} struck a convoy of {a2} at {loc}.
VV|Attack|120|UC|30|0.3|{a1} opened fire on {a2} at {loc}.
VV|Abduction/forced disappearance|25|RC|98|0.2|{a1} abducted {a2} from {loc}.
VV|Sexual violence|5|UC|95|0.1|{a1} sexually assaulted {a2} at {loc}.
SS|Arrests|15|PR|100|0|{a1} arrested suspected members of {a2} in a raid at {loc}.
SS|Looting/property destruction|8|UC|100|0|{a1} set fire to a school used by {a2} at {loc}.
SS|Disrupted weapons use|10|SR|97|0.2|{a1} defused an IED planted by {a2} at {loc}.
SS|Change to group/activity|8|RN|100|0|{a1} announced a new leadership council at {loc}.
SS|Agreement|3|SR|100|0|{a1} and {a2} agreed to a ceasefire after a jirga at {loc}.
SS|Headquarters or base established|1|RN|100|0|{a1} established a base at {loc}.
SS|Non-violent transfer of territory|1|RN|100|0|{a1} took control of {loc} without resistance.
SS|Other|4|SN|100|0|{a1} imposed a curfew and suspended mobile internet at {loc}.""".splitlines()]
AIR_STRIKE = 1 + [p[1] for p in PAIRS].index("Air/drone strike")
GRIEVANCES = ["inflation and rising electricity prices", "the arrest of party leaders", "load-shedding",
              "enforced disappearances", "water shortages", "delays in salary payments", "targeted killings",
              "the alleged rigging of the general elections", "the demolition of shops by the administration"]
GROUPS = ["Lawyers", "Students", "Labor Group", "Teachers", "Women", "Farmers", "Traders", "Health Workers"]
EXTRAS = ["Security forces cordoned off the area and launched a search operation.",
          "Local officials confirmed the incident to reporters.", "The area remained tense for hours.",
          "Police registered a case under the Anti-Terrorism Act.", "An investigation was opened.",
          "Traffic on the main highway was suspended for hours.", "Local media gave conflicting accounts.",
          "Residents said the incident lasted around an hour.", "Shops and markets stayed closed."]
INTER = ["State forces", "Rebel group", "Political militia", "Identity militia", "Rioters", "Protesters",
         "Civilians", "External/Other forces"]  # ACLED inter codes 1..8
KIND_CODE = {"S": 1, "P": 1, "R": 2, "U": 3, "T": 5, "D": 6, "C": 7, "X": 8}
START, DAYS = "2018-01-01", 2861  # 2018-01-01 .. 2025-10-31


def lst(xs) -> str:  # SQL list literal
    return "[" + ", ".join("'" + x.replace("'", "''") + "'" if isinstance(x, str) else repr(x) for x in xs) \
        + "]"


def grouped(j: int, split=lambda s: s.split(";")) -> tuple[list, str, str]:
    """Flat list of every country's field ``j`` items plus SQL offset/count expressions for country ``c``."""
    items = [split(c[j]) for c in COUNTRIES]
    offs = [sum(map(len, items[:k])) for k in range(len(items))]
    return [x for it in items for x in it], f"{lst(offs)}[c]", f"{lst(list(map(len, items)))}[c]"


def build_sql(rows: int, seed: int, path: str) -> str:
    def h(k: int, m: int) -> str:  # deterministic draw in [0, m)
        return f"(hash(i, {int(seed)}, {k}) % {m})::INT"

    def wpick(weights, k: int) -> str:  # 1-based index drawn with the given weights (summing to 1000)
        cum = [sum(int(w) for w in weights[: j + 1]) for j in range(len(weights) - 1)]
        whens = " ".join(f"WHEN {h(k, 1000)} < {c} THEN {j + 1}" for j, c in enumerate(cum))
        return f"CASE {whens} ELSE {len(weights)} END"

    flat, loff, lcnt = grouped(5, lambda s: [p.split("/") for p in s.split(";")])
    pl = {n: lst([float(p[j]) if j > 2 else p[j] or p[1] for p in flat]) for j, n in enumerate("12ltn")}
    rf, roff, rcnt = grouped(6)
    sf, soff, scnt = grouped(7)
    rf, sf, ex = lst(rf), lst(sf), lst(EXTRAS)
    col = {n: lst([p[j] for p in PAIRS]) for j, n in enumerate(["t", "se", "w", "k", "z", "gq", "tpl"])}
    cty = {j: lst([c[j] for c in COUNTRIES]) for j in range(4)}
    code, w = f"{lst(list(KIND_CODE.values()))}[instr('{''.join(KIND_CODE)}', {{}})]", lst(INTER)
    actor = """CASE {k} WHEN 'S' THEN 'Military Forces of ' || country || ' (' || reg || ')'
      WHEN 'P' THEN 'Police Forces of ' || country || ' (' || reg || ')'
      WHEN 'R' THEN {rf}[{roff} + 1 + ro + least(floor(rn * ({u} / 1e4) ^ 2)::INT, rn - 1)]
      WHEN 'U' THEN 'Unidentified Armed Group (' || country || ')'
      WHEN 'C' THEN 'Civilians (' || CASE WHEN {cn} THEN 'China' ELSE country END || ')'
      WHEN 'D' THEN 'Protesters (' || country || ')' WHEN 'T' THEN 'Rioters (' || country || ')'
      WHEN 'X' THEN 'Military Forces of Iran (1989-)' END"""
    a1 = actor.format(k="k1", rf=rf, roff=roff, u=h(20, 10000), cn="false")
    a2 = actor.format(k="k2", rf=rf, roff=roff, u=h(21, 10000), cn=f"{h(22, 10000)} < 30")  # ~0.05% of rows
    assoc = "CASE WHEN {k} = '{kind}' AND " + h(13, 100) + " < {pct} THEN " + lst(GROUPS) + \
        f"[1 + {h(14, len(GROUPS))}] || ' (' || country || ')' END"
    return f"""COPY (
WITH a AS (
  SELECT i, {h(2, 1000)} = 0 AS xb, {wpick([c[4] for c in COUNTRIES], 1)} AS c0, {h(6, 1000000)} AS u,
    {wpick([p[2] for p in PAIRS], 3)} AS p0, DATE '{START}' + {h(4, DAYS)} AS dt, {h(5, 100)} < 10 AS num
  FROM range({int(rows)}) t(i)
), b AS (
  SELECT *, CASE WHEN xb THEN 1 ELSE c0 END AS c, CASE WHEN xb THEN {AIR_STRIKE} ELSE p0 END AS p,
    CASE WHEN xb THEN {1 + [p[1] for p in flat].index("Panjgur")} ELSE {loff} + 1 + u % {lcnt} END AS l
  FROM a
), d AS (
  SELECT *, {cty[0]}[c] AS country, (c = 2 AND dt >= DATE '2021-08-15')::INT AS ro,
    CASE WHEN c <> 2 THEN {rcnt} WHEN dt < DATE '2021-08-15' THEN 2 ELSE {rcnt} - 1 END AS rn,
    CASE WHEN xb THEN 'X' WHEN p = 6 AND u % 7 < 2 THEN 'R' ELSE {col['k']}[p][1] END AS k1,
    CASE WHEN xb THEN 'R' WHEN p = 6 AND u % 7 < 2 THEN 'S' ELSE {col['k']}[p][2] END AS k2,
    CASE c WHEN 1 THEN CASE WHEN dt < DATE '2018-08-18' THEN '2013-2018' WHEN dt < DATE '2022-04-11'
      THEN '2018-2022' WHEN dt < DATE '2024-03-04' THEN '2022-2024' ELSE '2024-' END
      WHEN 2 THEN CASE WHEN dt < DATE '2021-08-15' THEN '2004-2021' ELSE '2021-' END
      WHEN 3 THEN '1989-' ELSE '2014-' END AS reg,
    CASE WHEN {h(7, 100)} < {col['z']}[p]::INT THEN 0
      ELSE least(300, 1 + floor(ln(({h(8, 1000000)} + 0.5) / 1e6) / ln({col['gq']}[p]::DOUBLE + 1e-9)))::INT
    END AS fat, CASE WHEN {h(9, 100)} < 70 THEN 'no report' ELSE 'around ' || (10 + 10 * {h(10, 50)}) END
    AS crowd,
    {lst(EVENT_TYPES.values())}[instr('{''.join(EVENT_TYPES)}', {col['t']}[p][1])] AS et,
    {pl['l']}[l] AS loc, {pl['2']}[l] AS admin2, {pl['1']}[l] AS admin1
  FROM b
), e AS (
  SELECT *, {a1} AS a1, CASE WHEN k2 <> 'N' THEN {a2} END AS a2, {code.format('k1')} AS n1,
    {code.format('k2')} AS n2, 'On ' || strftime(dt, '%-d %B %Y') || ', ' || replace(replace(replace(replace(
      {col['tpl']}[p], '{{a1}}', a1), '{{a2}}', coalesce(a2, 'them')), '{{g}}',
      {lst(GRIEVANCES)}[1 + {h(27, len(GRIEVANCES))}]), '{{loc}}',
      loc || ' (' || admin2 || ', ' || admin1 || ')') AS base,
    ' ' || {ex}[1 + {h(29, len(EXTRAS))}] AS e1,
    ' ' || {ex}[1 + ({h(29, len(EXTRAS))} + 1 + {h(31, len(EXTRAS) - 1)}) % {len(EXTRAS)}] AS e2,
    CASE WHEN et = 'Protests' THEN ' [size=' || crowd || ']' WHEN fat = 0 THEN ' No fatalities were reported.'
      ELSE ' ' || fat || CASE WHEN fat = 1 THEN ' person was' ELSE ' people were' END || ' reported killed.'
    END AS tail
  FROM d
)
SELECT {cty[1]}[c] || (10000 + i) AS event_id_cnty,
  CASE WHEN {h(11, 100)} < 10 THEN strftime(dt, '%d %B %Y') ELSE strftime(dt, '%Y-%m-%d') END AS event_date,
  year(dt) AS year, {wpick([850, 120, 30], 12)} AS time_precision,
  {lst(DISORDER.values())}[instr('{''.join(DISORDER)}', {col['t']}[p][2])] AS disorder_type,
  et AS event_type, {col['se']}[p] AS sub_event_type, a1 AS actor1, {assoc.format(k="k1", kind="D", pct=40)}
  AS assoc_actor_1, CASE WHEN num THEN n1::VARCHAR ELSE {w}[n1] END AS inter1, a2 AS actor2,
  {assoc.format(k="k2", kind="C", pct=10)} AS assoc_actor_2,
  CASE WHEN num THEN n2::VARCHAR ELSE {w}[n2] END AS inter2,
  CASE WHEN num THEN (CASE WHEN n2 IS NULL THEN 10 * n1 ELSE 10 * least(n1, n2) + greatest(n1, n2) END)::TEXT
    WHEN n2 IS NULL THEN {w}[n1] || ' only' ELSE {w}[least(n1, n2)] || '-' || {w}[greatest(n1, n2)]
  END AS interaction, CASE WHEN k2 = 'C' THEN 'Civilian targeting' END AS civilian_targeting,
  {cty[2]}[c] AS iso, {cty[3]}[c] AS region, country, admin1, admin2,
  CASE WHEN c IN (1, 4) THEN loc END AS admin3, loc AS location,
  round({pl['t']}[l] + ({h(17, 20001)} - 10000) / 1e5, 4)::DECIMAL(8, 4) AS latitude,
  round({pl['n']}[l] + ({h(18, 20001)} - 10000) / 1e5, 4)::DECIMAL(8, 4) AS longitude,
  {wpick([700, 250, 50], 19)} AS geo_precision, {sf}[{soff} + 1 + {h(23, 1000)} % {scnt}] || CASE WHEN
    {h(24, 100)} < 35 THEN '; ' || {sf}[{soff} + 1 + ({h(23, 1000)} + 1 + {h(25, 1000)} % ({scnt} - 1))
    % {scnt}]
    ELSE '' END AS source,
  {lst([s[0] for s in SCALES])}[{wpick([s[1] * 10 for s in SCALES], 26)}] AS source_scale,
  base || CASE WHEN length(base || e1 || e2 || tail) <= 300 AND {h(30, 3)} > 0 THEN e1 || e2
    WHEN length(base || e1 || tail) <= 300 THEN e1 ELSE '' END || tail AS notes,
  fat AS fatalities, CASE WHEN et = 'Protests' THEN 'crowd size=' || crowd END AS tags,
  epoch(dt)::BIGINT + 86400 * (1 + {h(32, 60)}) + {h(33, 86400)} AS timestamp
FROM e
) TO {lst([path])[1:-1]} (HEADER, DELIMITER ',')"""


def _run(sql: str) -> None:
    with duckdb.connect() as con:
        con.execute("SET memory_limit = '2GB'; SET preserve_insertion_order = true")
        con.execute(sql)


def generate_acled_csv(path: str, rows: int, seed: int = 1) -> str:
    """Write ``rows`` synthetic ACLED rows to ``path`` (deterministic for a given seed); returns the path."""
    _run(build_sql(rows, seed, str(path)))
    return str(path)


def revise_acled_csv(src: str, dst: str, fraction: float, seed: int = 2) -> str:
    """Copy ``src`` to ``dst``; ~``fraction`` of rows get new fatalities/notes and a newer timestamp."""
    s, hit = int(seed), f"hash(event_id_cnty, {int(seed)}) % 1000000 < {round(fraction * 1_000_000)}"
    new = {"fatalities": f"(fatalities::INT + 1 + hash(event_id_cnty, {s}, 1) % 3)::VARCHAR",
           "notes": "notes || ' Revised: updated fatality figures from local sources.'",
           "timestamp": f"(timestamp::BIGINT + 86400 * (30 + hash(event_id_cnty, {s}, 2) % 300))::VARCHAR"}
    cols = ", ".join(f"CASE WHEN {hit} THEN {new[c]} ELSE {c} END AS {c}" if c in new else c for c in COLUMNS)
    _run(f"COPY (SELECT {cols} FROM read_csv({lst([str(src)])[1:-1]}, all_varchar = true, header = true, "
         f"strict_mode = true)) TO {lst([str(dst)])[1:-1]} (HEADER, DELIMITER ',')")
    return str(dst)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Generate (or revise) a synthetic ACLED-shaped CSV export.")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=None, help="default 1 (generate) / 2 (revise)")
    ap.add_argument("--revise-from", help="existing generated CSV to copy with revisions")
    ap.add_argument("--revise-fraction", type=float, default=0.01)
    a, t0 = ap.parse_args(argv), time.perf_counter()
    if a.revise_from:
        revise_acled_csv(a.revise_from, a.out, a.revise_fraction, seed=2 if a.seed is None else a.seed)
    else:
        generate_acled_csv(a.out, a.rows, seed=1 if a.seed is None else a.seed)
    print(f"wrote {a.out}: {os.path.getsize(a.out) / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
