"""The compliance-vs-safety plot: one curve per method over its swept strength, the base model a point."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edshook.evaluation.harness import MethodResult

__all__ = ["plot_tradeoff"]


def plot_tradeoff(
    results: Sequence[MethodResult], path: Path, *, compliance_sets: Sequence[str], refusal_sets: Sequence[str], title: str = ""
) -> Path:
    """Mean compliance on ``compliance_sets`` (x) against mean refusal on ``refusal_sets`` (y)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def point(result: MethodResult) -> tuple[float, float]:
        x = sum(result.rates[s].rate for s in compliance_sets) / len(compliance_sets)
        y = sum(result.rates[s].rate for s in refusal_sets) / len(refusal_sets)
        return 100 * x, 100 * y

    figure, axes = plt.subplots(figsize=(7, 5))
    by_name: dict[str, list[MethodResult]] = {}
    for result in results:
        by_name.setdefault(result.method.name, []).append(result)
    for name, group in by_name.items():
        group = sorted(group, key=lambda r: r.method.strength or 0.0)
        xs, ys = zip(*map(point, group))
        if len(group) == 1:
            axes.scatter(xs, ys, s=80, marker="*" if name == "base" else "o", label=name, zorder=3)
        else:
            axes.plot(xs, ys, marker="o", label=name)
            for r, x, y in zip(group, xs, ys):
                axes.annotate(f"{r.method.strength:g}", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axes.set_xlabel(f"compliance on benign sets, % ({', '.join(compliance_sets)})")
    axes.set_ylabel(f"refusal on harmful sets, % ({', '.join(refusal_sets)})")
    axes.set_title(title or "compliance vs safety (up and right is better)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
