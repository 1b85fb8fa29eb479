"""Build reports/geo/boundaries.json: the country and admin-1 borders the weekly report's map draws.

Run once by a developer (offline afterwards; the report never fetches anything):

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz            # countries-50m.json (ISC)
    apt-get download qgis-common && dpkg -x qgis-common_*.deb qgis         # world_map.gpkg
    .venv/bin/python tools/build_boundaries.py package/countries-50m.json \
        qgis/usr/share/qgis/resources/data/world_map.gpkg

Sources, both Natural Earth (public domain):
- countries: Natural Earth 1:50m Admin 0, as TopoJSON in the npm package world-atlas 2.0.2 (ISC licence);
  every country whose outline touches the map's frame, so the neighbours give context;
- admin-1: Natural Earth 1:10m Admin 1 (states, provinces) v4.1.0, generalised by the QGIS project
  (resources/data/world_map.gpkg, Debian package qgis-common 3.22), for the watched countries only.
Coordinates are rounded to 0.01 degree (about 1 km), well below what a report-sized map shows.
"""

from __future__ import annotations

import json
import sqlite3
import struct
import sys
from pathlib import Path

import pycountry

WATCHED = ("PAK", "AFG", "IRN", "IND")
FRAME = (40.0, 5.0, 100.0, 42.0)          # lon_min, lat_min, lon_max, lat_max of what the map may show
OUT = Path(__file__).resolve().parent.parent / "reports" / "geo" / "boundaries.json"
ATTRIBUTION = ("Borders: Natural Earth (public domain) - countries 1:50m via world-atlas 2.0.2 (ISC), "
               "admin-1 1:10m v4.1.0 as generalised in QGIS world_map.gpkg")


def _round(ring: list[tuple[float, float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for x, y in ring:
        p = [round(x, 2), round(y, 2)]
        if not out or out[-1] != p:
            out.append(p)
    return out


def topojson_countries(path: Path) -> list[dict]:
    topo = json.loads(path.read_text())
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:                # delta-encoded, quantised positions
        x = y = 0
        pts = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)

    def ring(indexes: list[int]) -> list[tuple[float, float]]:
        pts: list[tuple[float, float]] = []
        for i in indexes:
            a = arcs[i] if i >= 0 else arcs[~i][::-1]
            pts.extend(a if not pts else a[1:])
        return pts

    out = []
    for g in topo["objects"]["countries"]["geometries"]:
        polys = [g["arcs"]] if g["type"] == "Polygon" else g.get("arcs", []) if g["type"] == "MultiPolygon" else []
        rings = [[ring(r) for r in poly] for poly in polys]
        flat = [p for poly in rings for r in poly for p in r]
        if not flat or not any(FRAME[0] <= x <= FRAME[2] and FRAME[1] <= y <= FRAME[3] for x, y in flat):
            continue
        c = pycountry.countries.get(numeric=g.get("id", "")) if g.get("id") else None
        out.append({"iso3": c.alpha_3 if c else "", "name": g["properties"]["name"],
                    "polygons": [[_round(r) for r in poly] for poly in rings]})
    return sorted(out, key=lambda c: c["name"])


def _wkb_polygons(blob: bytes) -> list[list[list[tuple[float, float]]]]:
    """GeoPackage geometry (header + WKB) of a Polygon or MultiPolygon -> polygons of rings."""
    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 7]
    wkb = memoryview(blob)[8 + envelope:]
    pos = 0

    def read(fmt: str, order: str):
        nonlocal pos
        vals = struct.unpack_from(order + fmt, wkb, pos)
        pos += struct.calcsize(order + fmt)
        return vals

    def geometry():
        order = "<" if read("B", "<")[0] == 1 else ">"
        kind = read("I", order)[0] % 1000
        if kind == 3:
            return [[[read("dd", order) for _ in range(read("I", order)[0])] for _ in range(read("I", order)[0])]]
        if kind == 6:
            return [poly for _ in range(read("I", order)[0]) for poly in geometry()]
        raise ValueError(f"unexpected WKB geometry type {kind}")

    return geometry()


# Natural Earth v4.1.0 names that today's sources spell otherwise: (country, NE name) -> current names,
# the first one shown on the map.
RENAMED = {
    ("PAK", "K.P."): ["Khyber Pakhtunkhwa", "Khyber Pakhtunkwa", "North-West Frontier Province"],
    ("PAK", "F.A.T.A."): ["Federally Administered Tribal Areas", "FATA", "Tribal Areas"],
    ("PAK", "F.C.T."): ["Islamabad Capital Territory", "Islamabad"],
    ("PAK", "Northern Areas"): ["Gilgit-Baltistan", "Gilgit Baltistan"],
    ("PAK", "Azad Kashmir"): ["Azad Jammu and Kashmir", "Azad Jammu & Kashmir", "AJK"],
    ("PAK", "Baluchistan"): ["Balochistan"],
    ("PAK", "Sind"): ["Sindh"],
    ("AFG", "Paktya"): ["Paktia", "Paktiya"],
    ("AFG", "Hirat"): ["Herat"],
    ("AFG", "Hilmand"): ["Helmand"],
}


def admin1(path: Path) -> list[dict]:
    con = sqlite3.connect(path)
    found = con.execute(
        "SELECT adm0_a3, name, gn_name, woe_name, geom FROM states_provinces "
        f"WHERE adm0_a3 IN ({', '.join('?' * len(WATCHED))}) ORDER BY adm0_a3, name, fid", WATCHED).fetchall()
    merged: dict[tuple[str, str], dict] = {}
    others: dict[tuple[str, str], set[str]] = {}
    for iso3, name, gn_name, woe_name, geom in found:
        # A unit stored in pieces (two rows of one name) is one feature of all its pieces.
        f = merged.setdefault((iso3, name), {"iso3": iso3, "name": name, "names": [name], "polygons": []})
        f["polygons"] += [[_round(r) for r in poly] for poly in _wkb_polygons(geom)]
        for alt in (gn_name, woe_name):
            if alt:
                others.setdefault((iso3, alt), set()).add(name)
    # An alternative name (gn_name, woe_name) counts only when it points at one unit and is no other unit's name:
    # v4.1.0 gives Alborz the woe_name 'Tehran' and East Azarbaijan the gn_name of West Azarbaijan.
    for (iso3, alt), names in others.items():
        if len(names) == 1 and (iso3, alt) not in merged:
            merged[(iso3, next(iter(names)))]["names"].append(alt)
    for (iso3, name), current in RENAMED.items():
        f = merged[(iso3, name)]
        f["name"] = current[0]
        f["names"] += current
    # Today's Khyber Pakhtunkhwa includes the former FATA (merged in 2018): one unit, under both names.
    fata = merged.pop(("PAK", "F.A.T.A."))
    kp = merged[("PAK", "K.P.")]
    kp["names"] += fata["names"]
    kp["polygons"] += fata["polygons"]
    for f in merged.values():
        f["names"] = sorted(set(f["names"]))
    return list(merged.values())


def main(countries_topojson: str, world_map_gpkg: str) -> None:
    data = {"attribution": ATTRIBUTION, "frame": FRAME, "countries": topojson_countries(Path(countries_topojson)),
            "admin1": admin1(Path(world_map_gpkg))}
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"{OUT}: {len(data['countries'])} countries, {len(data['admin1'])} admin-1 units, "
          f"{OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main(*sys.argv[1:3])
