"""Draw the toy energy landscape shown on the home page: ``docs/assets/energy_landscape.png``.

Run from the repository root: ``.venv/bin/python docs/scripts/energy_landscape.py``.

The surface is a made-up function of two coordinates, standing in for a hidden state: two low
basins (helpful answers, safe refusals) and a hill of high energy (false refusals). The arrows are
real descents on it, with the update EDS uses, ``h <- h - eta * grad E(h) / ||grad E(h)||``, each
stopping once the energy is below the threshold (energy gating).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

OUT = Path(__file__).resolve().parents[1] / "assets" / "energy_landscape.png"

HELPFUL = (1.3, 0.3)
SAFE_REFUSAL = (-1.5, -1.1)
FALSE_REFUSAL = (-0.5, 1.1)
THRESHOLD = -0.55
STEP = 0.1
STEPS = 40


def bump(x: np.ndarray, y: np.ndarray, centre: tuple[float, float], width: float) -> np.ndarray:
    return np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / width)


def energy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Low in the two good basins, high where false refusals sit."""
    return (
        0.1 * (x**2 + y**2)
        - 1.6 * bump(x, y, HELPFUL, 1.6)
        - 1.3 * bump(x, y, SAFE_REFUSAL, 0.45)
        + 0.9 * bump(x, y, FALSE_REFUSAL, 0.5)
    )


def gradient(x: float, y: float, eps: float = 1e-5) -> np.ndarray:
    gx = (energy(np.array(x + eps), np.array(y)) - energy(np.array(x - eps), np.array(y))) / (2 * eps)
    gy = (energy(np.array(x), np.array(y + eps)) - energy(np.array(x), np.array(y - eps))) / (2 * eps)
    return np.array([float(gx), float(gy)])


def descend(start: tuple[float, float]) -> np.ndarray:
    """Normalised gradient steps of size STEP, stopping below THRESHOLD."""
    path = [np.array(start, dtype=float)]
    for _ in range(STEPS):
        h = path[-1]
        if energy(h[0], h[1]) < THRESHOLD:
            break
        g = gradient(*h)
        path.append(h - STEP * g / (np.linalg.norm(g) + 1e-8))
    return np.stack(path)


def main() -> None:
    xs, ys = np.meshgrid(np.linspace(-2.6, 2.6, 400), np.linspace(-2.2, 2.2, 340))
    zs = energy(xs, ys)

    fig = Figure(figsize=(8, 5.4), dpi=130)
    ax = fig.subplots()
    filled = ax.contourf(xs, ys, zs, levels=24, cmap="viridis")
    ax.contour(xs, ys, zs, levels=24, colors="white", linewidths=0.3, alpha=0.4)
    ax.contour(xs, ys, zs, levels=[THRESHOLD], colors="white", linewidths=1.4, linestyles="--")
    fig.colorbar(filled, ax=ax, label="energy E(h)")

    starts = [(-0.5, 1.6), (0.2, 1.55), (-0.05, 0.8), (-0.7, 0.65)]
    for start in starts:
        path = descend(start)
        ax.plot(path[:, 0], path[:, 1], color="#ff6b6b", linewidth=1.6)
        ax.annotate(
            "",
            xy=path[-1],
            xytext=path[-2],
            arrowprops={"arrowstyle": "-|>", "color": "#ff6b6b", "linewidth": 1.6, "mutation_scale": 16},
        )
        ax.plot(*start, marker="o", markersize=6, color="#ff6b6b", markeredgecolor="white")

    text = {"fontsize": 11, "fontweight": "bold", "ha": "center", "color": "white"}
    ax.text(FALSE_REFUSAL[0] - 1.05, FALSE_REFUSAL[1] - 0.1, "false refusal\n(high energy)", **text)
    ax.text(HELPFUL[0], HELPFUL[1] - 0.45, "helpful\n(low energy)", va="top", **text)
    ax.text(SAFE_REFUSAL[0], SAFE_REFUSAL[1] - 0.45, "safe refusal\n(low energy)", va="top", **text)
    ax.text(2.5, 2.05, "dashed: calibrated threshold", fontsize=9, ha="right", va="top", color="white")

    ax.set_xlabel("hidden state, direction 1")
    ax.set_ylabel("hidden state, direction 2")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("Energy-driven steering: descend from false refusals to the helpful basin")
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, metadata={"Software": None})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
