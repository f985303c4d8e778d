"""Rebuild wopmatch/reports/land-110m.path from world-atlas's land-110m.json.

The report's world map draws land from Natural Earth's 1:110m land polygons
(public domain), as packaged in the npm package world-atlas 2.0.2 (ISC licence):

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python scripts/land_path.py package/land-110m.json > wopmatch/reports/land-110m.path

The output is one SVG path in an equirectangular projection: x = lon + 180,
y = 90 - lat (a 360 x 180 view box), one decimal place.
"""

from __future__ import annotations

import json
import sys


def main(path: str) -> None:
    topo = json.load(open(path))
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:  # delta-encoded, quantized positions
        x = y = 0
        pts = []
        for dx, dy in arc:
            x += dx
            y += dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)

    def ring(indices: list[int]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for i in indices:
            pts = arcs[i] if i >= 0 else arcs[~i][::-1]
            out.extend(pts if not out else pts[1:])
        return out

    def copies(pts: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
        """A ring that crosses the antimeridian (Fiji, Chukotka) is unwrapped to
        continuous longitudes and drawn twice, 360 apart; the view box clips
        both. A ring that circles the pole (Antarctica) is kept as it is."""
        lons = [pts[0][0]]
        for lon, _ in pts[1:]:
            lon += 360 * round((lons[-1] - lon) / 360)
            lons.append(lon)
        if lons == [p[0] for p in pts] or abs(lons[-1] - lons[0]) > 180:
            return [pts]
        un = [(lon, lat) for lon, (_, lat) in zip(lons, pts, strict=True)]
        shift = 360 if min(lons) < -180 else -360
        return [un, [(lon + shift, lat) for lon, lat in un]]

    parts = []
    for geom in topo["objects"]["land"]["geometries"]:
        polygons = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
        for polygon in polygons:
            for r in polygon:
                for piece in copies(ring(r)):
                    pts = [(round(lon + 180, 1), round(90 - lat, 1)) for lon, lat in piece]
                    dedup = [p for k, p in enumerate(pts) if k == 0 or p != pts[k - 1]]
                    if len(dedup) < 3:
                        continue
                    parts.append("M" + "L".join(f"{x:g},{y:g}" for x, y in dedup) + "Z")
    sys.stdout.write("".join(parts) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
