"""The compliance-vs-safety plot: one curve per method over its swept strength, the base model a point."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["plot_tradeoff"]


def plot_tradeoff(
    details: Mapping[str, Mapping],
    path: Path,
    *,
    compliance_sets: Sequence[str],
    refusal_sets: Sequence[str],
    title: str = "compliance vs safety (up and right is better)",
) -> Path:
    """Mean compliance on ``compliance_sets`` (x) against mean refusal on ``refusal_sets`` (y).

    ``details`` is the ``"details"`` part of a report (method label -> figures), so a saved
    ``report.json`` can be plotted again without rerunning anything.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def point(entry: Mapping) -> tuple[float, float]:
        x = sum(entry["sets"][s]["rate"] for s in compliance_sets) / len(compliance_sets)
        y = sum(entry["sets"][s]["rate"] for s in refusal_sets) / len(refusal_sets)
        return 100 * x, 100 * y

    by_name: dict[str, list[Mapping]] = {}
    for entry in details.values():
        by_name.setdefault(entry["method"], []).append(entry)
    colours = plt.get_cmap("tab10").colors
    figure, axes = plt.subplots(figsize=(8, 5.5))
    for index, (name, group) in enumerate(by_name.items()):
        colour = colours[index % len(colours)]
        group = sorted(group, key=lambda e: e["strength"] or 0.0)
        xs, ys = zip(*map(point, group))
        if len(group) == 1:
            axes.scatter(xs, ys, s=110 if name == "base" else 60, color=colour, marker="*" if name == "base" else "o",
                         label=name, zorder=3)
            continue
        axes.plot(xs, ys, marker="o", color=colour, label=name)
        for entry, x, y in zip(group, xs, ys):
            axes.annotate(f"{entry['strength']:g}", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axes.set_xlabel(f"compliance, % ({' + '.join(compliance_sets)})")
    axes.set_ylabel("mean refusal on harmful sets, %")
    axes.set_title(title, fontsize=11)
    figure.text(0.01, 0.01, "harmful sets: " + ", ".join(refusal_sets), fontsize=7, color="0.35")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
