"""NAV history pictures: a PNG (matplotlib, headless) and an interactive HTML page (plotly, with
its script inlined so the page opens offline). The numbers arrive as Decimals and are turned
into floats here only, for drawing: nothing computed here goes back into the books."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen: render to files only

import matplotlib.pyplot as plt
import plotly.graph_objects as go

BILLION = Decimal(1_000_000_000)


def _billions(values: Sequence[Decimal | None]) -> list[float | None]:
    return [None if v is None else float(v / BILLION) for v in values]


def nav_png(
    path: Path, days: Sequence[date], series: Mapping[str, Sequence[Decimal | None]], title: str
) -> Path:
    figure, axes = plt.subplots(figsize=(11, 5.5), dpi=110)
    for number, (name, values) in enumerate(series.items()):
        style = {"color": "black", "linestyle": "--", "linewidth": 2.2} if number == 0 else {}
        axes.plot(list(days), _billions(values), label=name, **style)  # type: ignore[arg-type]
    axes.set_title(title)
    axes.set_ylabel("USD billion")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def nav_html(
    path: Path, days: Sequence[date], series: Mapping[str, Sequence[Decimal | None]], title: str
) -> Path:
    figure = go.Figure()
    for name, values in series.items():
        figure.add_trace(go.Scatter(x=list(days), y=_billions(values), mode="lines", name=name))
    figure.update_layout(title=title, yaxis_title="USD billion", hovermode="x unified")
    figure.write_html(str(path), include_plotlyjs=True, full_html=True)
    return path
