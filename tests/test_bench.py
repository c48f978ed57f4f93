"""``streamdemoire bench`` end to end at a tiny size: every measurement is there, the chart is
a real PNG, and a second run reuses the rendered clip. No timing is asserted: a benchmark
reports figures, it does not judge them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from streamdemoire.bench import format_table, source_clip
from streamdemoire.cli import main


def test_bench_reports_every_stage(tmp_path: Path, identity_checkpoint: Path) -> None:
    cache, chart = tmp_path / "cache", tmp_path / "bench.png"
    args = ["bench", "--sizes", "160x96", "--frames", "4", "--batch", "1,2",
            "--pipeline-batch", "2", "--clip-seconds", "0.1", "--live-seconds", "1",
            "--memory-frames", "2", "--checkpoint", str(identity_checkpoint),
            "--sharpen", "0.5", "--temporal-strength", "0.7", "--cache", str(cache),
            "--plot", str(chart), "--json"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)

    assert report["pipeline_sharpen"] == 0.5 and report["pipeline_temporal"]
    assert report["pipeline_temporal_strength"] == 0.7
    (size,) = report["sizes"]
    assert size["size"] == "160x96"
    for stage in ("decode", "encode", "pipeline", "loop"):
        assert size[stage]["frames"] == 4 and size[stage]["fps"] > 0, stage
        assert size[stage]["cpu_s_per_frame"] > 0, stage
    assert {(e["backend"], e["batch"]) for e in size["engines"]} >= {("torch", 1),
                                                                      ("torch", 2)}
    assert size["temporal"]["fps"] is None or size["temporal"]["fps"] > 0
    assert size["slowest_stage"] in size["stages_fps"]
    assert {"decode", "engine", "encode"} <= set(size["stages_fps"])
    assert size["efficiency"] > 0 and size["clean_vs_loop"] > 0
    assert size["pipeline"]["peak_rss_mb"] > 0
    live = size["live"]
    assert live["input_fps"] == 30 and live["frames"] + live["dropped"] > 0
    assert set(live["latency_ms"]) == {"p50", "p95", "max"}

    memory = report["memory"]
    assert (memory["short"]["frames"], memory["long"]["frames"]) == (2, 20)
    assert memory["long_over_short"] > 0
    assert report["machine"]["cpu_count"] >= 1

    with Image.open(chart) as image:
        assert image.format == "PNG" and image.width > 300

    # The table is drawn from the same report; the clip is rendered once, then reused.
    table = format_table(report)
    assert "160x96" in table and "eff." in table and "memory at 160x96" in table
    assert "CPU seconds per frame" in table and "sharpening 0.5" in table
    said: list[str] = []
    clip = source_clip(cache, 160, 96, 0.1, said.append)
    assert clip.name == "160x96_seed1_0.1s_30fps.mp4" and not said
