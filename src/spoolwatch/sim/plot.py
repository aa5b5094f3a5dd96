"""Backlog and agents over time, one line per policy, as a PNG (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from spoolwatch.errors import ConfigError, MissingExtra
from spoolwatch.sim.run import SimResult

__all__ = ["plot_results"]


def plot_results(results: Sequence[SimResult], path: str | Path, *, title: str = "") -> Path:
    """Draw the backlog (top) and running agents (bottom) of each result into ``path``."""
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise ConfigError(f"--plot: {target} must end in .png")
    if not target.parent.exists():
        raise ConfigError(f"--plot: folder {target.parent} does not exist")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtra("matplotlib", "sim") from exc
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    horizon = max((r.timeline[-1][0] for r in results if r.timeline), default=1.0)
    drained = [r.drained_at for r in results]
    if all(d is not None for d in drained) and max(d or 0.0 for d in drained) < horizon / 4:
        # a burst: show the drain, not the idle hours after it
        horizon = max(d or 0.0 for d in drained) * 1.5 + 60.0
    hours = horizon > 3 * 3600
    scale, unit = (3600.0, "h") if hours else (60.0, "min")
    for result in results:
        times = [t / scale for t, _, _ in result.timeline]
        top.plot(times, [b for _, b, _ in result.timeline], label=result.policy, linewidth=1.2)
        bottom.step(times, [a for _, _, a in result.timeline], where="post", linewidth=1.2)
    top.set_ylabel("backlog (visible + in flight)")
    top.legend(loc="upper right")
    top.grid(alpha=0.3)
    bottom.set_ylabel("agents running")
    bottom.set_xlabel(f"time ({unit})")
    bottom.grid(alpha=0.3)
    bottom.set_xlim(0, horizon / scale)
    if title:
        top.set_title(title)
    figure.tight_layout()
    figure.savefig(target, dpi=110)
    plt.close(figure)
    return target
