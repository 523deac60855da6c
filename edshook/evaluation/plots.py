"""The compliance-vs-safety plot: one curve per method over its swept setting, the base model a star.

Drawn on a plain ``matplotlib.figure.Figure``: no pyplot, no backend switched, nothing global changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edshook.evaluation.harness import headline
from edshook.evaluation.metrics import Rate

__all__ = ["plot_report", "plot_tradeoff"]


def plot_report(methods: Mapping[str, Mapping[str, Any]], path: Path) -> Path | None:
    """:func:`plot_tradeoff` of a saved report's ``"methods"``, every benign set against the pooled harmful
    ones; None when the report lacks either kind."""
    sets = next(iter(methods.values()))["sets"]
    benign = [name for name, entry in sets.items() if entry["kind"] == "benign"]
    harmful = [name for name, entry in sets.items() if entry["kind"] == "harmful"]
    if not (benign and harmful):
        return None
    return plot_tradeoff(methods, path, benign=benign, harmful=harmful)


def plot_tradeoff(
    methods: Mapping[str, Mapping[str, Any]],
    path: Path,
    *,
    benign: Sequence[str],
    harmful: Sequence[str],
    title: str = "helpfulness vs safety (up and right is better)",
) -> Path:
    """One panel per set in ``benign`` (x: its headline rate) against the pooled refusal on ``harmful`` (y).

    ``methods`` is the ``"methods"`` part of a saved ``report.json`` (label -> figures), so a report
    can be plotted again without rerunning anything. Bars are 95% Wilson intervals; the number
    beside a point is the value of the setting its curve sweeps.
    """
    from matplotlib.figure import Figure

    def point(entry: Mapping[str, Any], benign_set: str) -> tuple[Rate, Rate]:
        pooled = [headline(entry["sets"][s]) for s in harmful]
        return headline(entry["sets"][benign_set]), Rate(sum(r.n for r in pooled), sum(r.count for r in pooled))

    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for entry in methods.values():
        by_name.setdefault(entry["method"], []).append(entry)
    figure = Figure(figsize=(6.5 * len(benign), 5.5))
    axes_row = figure.subplots(1, len(benign), squeeze=False)[0]
    colours = [f"C{i}" for i in range(10)]
    for axes, benign_set in zip(axes_row, benign, strict=True):
        for index, (name, group) in enumerate(by_name.items()):
            group = sorted(group, key=lambda e: (e["sweep"] or {}).get("value", 0.0))
            points = [point(entry, benign_set) for entry in group]
            xs = [100 * x.rate for x, _ in points]
            ys = [100 * y.rate for _, y in points]
            xerr = [[100 * (x.rate - x.ci95[0]) for x, _ in points], [100 * (x.ci95[1] - x.rate) for x, _ in points]]
            yerr = [[100 * (y.rate - y.ci95[0]) for _, y in points], [100 * (y.ci95[1] - y.rate) for _, y in points]]
            star = name == "base"
            axes.errorbar(
                xs,
                ys,
                xerr=xerr,
                yerr=yerr,
                fmt="*" if star else "o-" if len(group) > 1 else "o",
                markersize=12 if star else 5,
                color=colours[index % 10],
                ecolor=colours[index % 10],
                elinewidth=0.6,
                alpha=0.9,
                capsize=0,
                label=name,
                zorder=3 if star else 2,
            )
            for entry, x, y in zip(group, xs, ys, strict=True):
                if entry["sweep"] is not None:
                    axes.annotate(
                        f"{entry['sweep']['value']:g}", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points"
                    )
        axes.set_xlabel(f"helpful on {benign_set}, %")
        axes.set_ylabel("refusal on harmful sets (pooled), %")
        axes.grid(alpha=0.3)
    axes_row[0].legend(fontsize=8, loc="best", title="labels: swept setting", title_fontsize=7)
    figure.suptitle(title, fontsize=11)
    figure.text(
        0.01, 0.01, "harmful sets: " + ", ".join(harmful) + ". Bars: 95% Wilson intervals.", fontsize=7, color="0.35"
    )
    figure.tight_layout(rect=(0, 0.03, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path
