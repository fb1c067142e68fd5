"""Draws a soak CSV (bench/soak.py) as one SVG of small panels, no plotting library:
RSS, open file descriptors, p99 latency and requests/s (with errors) against time.
Usage: python3 bench/plot_svg.py OUT.svg TITLE CSV [CSV ...]   (one line per CSV, e.g. SQLite
and PostgreSQL)"""
import csv
import sys

out, title, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
series = []
for p in paths:
    rows = list(csv.DictReader(open(p)))
    name = p.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    series.append((name, rows))
COLORS = ["#1f5fa8", "#c2410c", "#15803d", "#7e22ce"]
PANELS = [("rss_mib", "RSS (MiB)"), ("fds", "open file descriptors"), ("p99_ms", "p99 latency (ms)"),
          ("requests_per_s", "requests/s"), ("errors", "errors per 10 s")]
W, H, PAD_L, PAD_T, GAP = 640, 150, 60, 40, 40
height = PAD_T + len(PANELS) * (H + GAP) + 20
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W + PAD_L + 160}" height="{height}" '
       f'font-family="sans-serif" font-size="11">',
       f'<rect width="100%" height="100%" fill="white"/>',
       f'<text x="{PAD_L}" y="20" font-size="14" font-weight="bold">{title}</text>']
tmax = max((float(r["t_s"]) for _, rows in series for r in rows), default=1) or 1
for i, (key, label) in enumerate(PANELS):
    top = PAD_T + i * (H + GAP)
    vals = [float(r[key]) for _, rows in series for r in rows]
    vmax = max(vals, default=1) * 1.1 or 1
    svg.append(f'<text x="{PAD_L}" y="{top - 6}" font-weight="bold">{label}</text>')
    svg.append(f'<rect x="{PAD_L}" y="{top}" width="{W}" height="{H}" fill="none" stroke="#999"/>')
    for frac in (0, 0.5, 1):
        y = top + H - frac * H
        svg.append(f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{vmax * frac:.4g}</text>')
        svg.append(f'<line x1="{PAD_L}" x2="{PAD_L + W}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
    for frac in (0, 0.25, 0.5, 0.75, 1):
        x = PAD_L + frac * W
        svg.append(f'<text x="{x:.1f}" y="{top + H + 14}" text-anchor="middle">{tmax * frac:.0f} s</text>')
    for j, (name, rows) in enumerate(series):
        pts = " ".join(f"{PAD_L + float(r['t_s']) / tmax * W:.1f},{top + H - float(r[key]) / vmax * H:.1f}"
                       for r in rows)
        svg.append(f'<polyline points="{pts}" fill="none" stroke="{COLORS[j % 4]}" stroke-width="1.5"/>')
        if i == 0:
            svg.append(f'<text x="{PAD_L + W + 10}" y="{top + 14 + 16 * j}" fill="{COLORS[j % 4]}">{name}</text>')
svg.append("</svg>")
open(out, "w").write("\n".join(svg) + "\n")
