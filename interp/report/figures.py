"""Figures more than one experiment draws (plotly figure dicts, rendered offline by :mod:`interp.report.html`)."""
from __future__ import annotations


def removed_bars(rows: dict, keys: list[tuple[str, str]], title: str, height: int = 460) -> dict:
    """Grouped bars: % removed per (label, condition prefix), direction vs random, full test vs Tigges
    protocol, with bootstrap intervals. ``rows`` maps ``"<prefix>:direction"`` / ``"<prefix>:random"`` (or
    ``"<prefix>:vector"``, shown as the direction) to a condition's row; missing prefixes are skipped."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for what, colour in (("direction", "#1f77b4"), ("random", "#aaaaaa")):
        for key, suffix, pattern in (("removed", "full test", ""), ("tigges_removed", "Tigges protocol", "/")):
            xs, ys, lo, hi = [], [], [], []
            for label, prefix in keys:
                e = rows.get(f"{prefix}:{what}") or (rows.get(f"{prefix}:vector") if what == "direction" else None)
                if e is None:
                    continue
                xs.append(label)
                ys.append(e[key])
                lo.append(e[key] - e[key + "_ci"][0])
                hi.append(e[key + "_ci"][1] - e[key])
            fig.add_bar(name=f"{what} ({suffix})", x=xs, y=ys, marker_color=colour, marker_pattern_shape=pattern,
                        error_y=dict(type="data", array=hi, arrayminus=lo))
    fig.update_layout(barmode="group", yaxis_title="share of above-chance accuracy removed", yaxis_tickformat=".0%",
                      title=title, height=height)
    return fig.to_plotly_json()
