"""Write a run's results: JSON (everything), Markdown (tables), PNG (one chart per family)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.common import FamilyResult, rounded


def write_all(
    out_dir: Path, stem: str, meta: dict[str, Any], families: list[FamilyResult]
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {"meta": rounded(meta), "families": {f.name: f.to_json() for f in families}}
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    charts = write_charts(out_dir, stem, meta, families)
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(markdown(meta, families, charts))
    return [json_path, md_path, *charts]


# --------------------------------------------------------------------------- Markdown


def _fmt(value: Any) -> str:  # noqa: PLR0911 - one branch per type and magnitude
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value[:8]) + (" ..." if len(value) > 8 else "")
    return str(value)


def _versions(meta: dict[str, Any]) -> tuple[str, str]:
    slug = meta.get("versions_slug") or {}

    def v(name: str) -> str:
        return f"{name} {slug.get(name) or 'n/a'}"

    stack = ", ".join(
        v(n)
        for n in ("django", "channels", "daphne", "channels-redis", "redis", "twisted", "autobahn")
    )
    peers = ", ".join(v(n) for n in ("uvicorn", "gunicorn", "httptools", "uvloop", "websockets"))
    return stack, peers


NOISE = 0.05  # |ratio - 1| below this: within run-to-run noise on this kind of machine
SKIP_FIELDS = {
    "label",
    "runs",
    "kind",
    "latencies_us",
    "client",
    "rss_mb_by_sockets",
    "process_rss_mb",
}


def _measure_cells(entry: dict[str, Any]) -> str:
    cells = []
    for key, value in entry.items():
        if key in SKIP_FIELDS or value is None:
            continue
        if isinstance(value, (int, float, bool, str)) or (
            isinstance(value, dict) and len(value) < 6
        ):
            cells.append(f"{key}={_fmt(value)}")
    if "rss_mb_by_sockets" in entry:
        cells.append("RSS MB by sockets: " + _fmt(entry["rss_mb_by_sockets"]))
    client = entry.get("client")
    if isinstance(client, dict):
        bound = " **CLIENT-BOUND**" if client.get("client_bound") else ""
        cells.append(
            f"client: {client.get('tool')}, busiest process "
            f"{_fmt(client.get('cpu_busiest_process'))} core{bound}"
        )
    return "; ".join(cells)


def markdown(meta: dict[str, Any], families: list[FamilyResult], charts: list[Path]) -> str:
    stack, peers = _versions(meta)
    lg = meta.get("load_generator", {})
    lines = [
        f"# channels-buildpack benchmarks: {meta.get('date')} on {meta.get('machine')} "
        f"({meta.get('profile')} run)",
        "",
        "| | |",
        "|---|---|",
        f"| Date | {meta.get('timestamp')} |",
        f"| Machine | {meta.get('hostname')} ({meta.get('arch')}, Linux {meta.get('kernel')}) |",
        f"| CPU | {meta.get('cpu_model')}, {meta.get('cpu_count')} CPUs "
        f"(affinity {meta.get('cpu_affinity')}), {meta.get('memory_gb')} GB RAM |",
        f"| Python | {meta.get('python')} (bench), "
        f"{(meta.get('versions_slug') or {}).get('python')} (app slug) |",
        f"| Stack (in the slug) | {stack} |",
        f"| Peers (in the slug) | {peers} |",
        f"| HTTP load generator | **{lg.get('http')}**: {lg.get('http_detail')} |",
        f"| WebSocket clients | {lg.get('websocket')} |",
        f"| Command | `{meta.get('command')}` |",
        f"| Total run time | {_fmt(meta.get('total_seconds'))} s |",
        "",
        "Every figure is a ratio **subject / baseline**, both measured in this run on this "
        "machine (absolute values beside it, all of them in the JSON). 'Better' says which "
        "direction favours the subject; ✅ = subject better than the baseline, ❌ = behind, "
        "≈ = within 5% (run-to-run noise of the load figures here is about ±10%). "
        "**CLIENT-BOUND** = a load-generator process used more than 0.9 of a core during the "
        "measurement, so that figure says more about the client than the "
        "server. Everything (servers, Redis, clients) shares the same CPUs.",
        "",
    ]
    for family in families:
        lines += [f"## {family.title} (`{family.name}`, {family.seconds:.0f} s)", ""]
        chart = next((c for c in charts if c.stem.endswith(f"-{family.name}")), None)
        if family.ratios:
            lines += [
                "| Comparison | Metric | Subject | Baseline | Ratio | Better | | Client-bound |",
                "|---|---|---:|---:|---:|---|---|---|",
            ]
            for r in family.ratios:
                mark = "≈" if abs(r.ratio - 1.0) < NOISE else "✅" if r.favourable else "❌"
                unit = f" {r.unit}" if r.unit else ""
                lines.append(
                    f"| {r.comparison} | {r.metric} | {_fmt(r.subject_value)}{unit} | "
                    f"{_fmt(r.baseline_value)}{unit} | **{r.ratio:.3g}** | {r.better} | {mark} | "
                    f"{'**yes**' if r.client_bound else 'no'} |"
                )
            lines.append("")
        if chart is not None:
            lines += [f"![{family.name}]({chart.name})", ""]
        if family.measurements:
            lines += ["<details><summary>Measurements</summary>", "", "| Key | What | Values |",
                      "|---|---|---|"]  # fmt: skip
            for key, entry in family.measurements.items():
                lines.append(f"| `{key}` | {entry.get('label', '')} | {_measure_cells(entry)} |")
            lines += ["", "</details>", ""]
        for note in family.notes:
            lines.append(f"- {note}")
        for error in family.errors:
            lines.append(f"- **ERROR**: {error}")
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- charts


def write_charts(
    out_dir: Path, stem: str, meta: dict[str, Any], families: list[FamilyResult]
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    paths = []
    for family in families:
        ratios = [r for r in family.ratios if r.ratio > 0 and math.isfinite(r.ratio)]
        zeros = [r for r in family.ratios if r.ratio == 0]
        if not ratios and not zeros:
            continue
        items = ratios + zeros
        labels = [f"{r.comparison}\n{r.metric} ({r.better} is better)" for r in items]
        finite = [r.ratio for r in ratios] or [1.0]
        low = min(*finite, 1.0) / 1.8
        high = max(*finite, 1.0) * 1.8
        fig_height = 1.2 + 0.5 * len(items)
        fig, ax = plt.subplots(figsize=(10, fig_height))
        y = list(range(len(items)))[::-1]
        for pos, r in zip(y, items, strict=True):
            if abs(r.ratio - 1.0) < NOISE:
                color = "#9e9e9e"  # within noise
            else:
                color = "#2e8b57" if r.favourable else "#c0392b"
            value = r.ratio if r.ratio > 0 else low * 1.02  # a zero: drawn to the left edge
            hatch = "//" if r.client_bound else None
            ax.barh(pos, abs(value - 1.0), left=min(value, 1.0), color=color, alpha=0.85,
                    hatch=hatch, edgecolor="black", linewidth=0.4)  # fmt: skip
            text = f"{r.ratio:.2f}x" if r.ratio > 0 else "0"
            if r.client_bound:
                text += " (client-bound)"
            right = value >= 1.0
            ax.text(value * (1.03 if right else 1 / 1.03), pos, text, va="center",
                    ha="left" if right else "right", fontsize=8)  # fmt: skip
        ax.axvline(1.0, color="black", linewidth=1.2, linestyle="--")
        ax.set_xscale("log")
        ax.set_xlim(low / 1.3, high * 1.3)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=8)
        ax.set_xlabel("subject / baseline (log scale); dashed line = baseline = 1.0x")
        ax.set_title(
            f"{family.title}\n{meta.get('date')} {meta.get('machine')}, "
            f"{meta.get('cpu_count')} CPUs ({meta.get('profile')}); green = subject better, "
            "red = behind, grey = within 5%",
            fontsize=10,
        )
        fig.tight_layout()
        path = out_dir / f"{stem}-{family.name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
