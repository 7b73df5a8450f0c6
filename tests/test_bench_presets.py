"""benchmarks/presets.py on a tiny export: every row `make bench` needs is there and each
ratio is against the baseline of the same run (no timed asserts: only that figures exist
and are consistent)."""

from __future__ import annotations

import math

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from benchmarks import presets
from pianodiff.checkpoint.export import export_model
from pianodiff.conf import CONF_DIR, group_choices
from pianodiff.generation import paths
from pianodiff.generation.geometry import Geometry


def _tiny_export(folder, seed: int = 0, **meta):
    """A tiny DiffWave over the bundled model's T = 50 schedule (every preset's sampler fits);
    ``seed`` draws its weights, ``meta`` adds to the export's meta."""
    torch.manual_seed(seed)
    model_cfg = OmegaConf.load(CONF_DIR / "model" / "tiny.yaml")
    net = instantiate(model_cfg)
    torch.nn.init.normal_(net.output_projection.weight, std=0.2)
    diffusion = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "diffusion" / "linear50.yaml"))
    meta = {"sample_rate": 22050, **meta}
    return export_model(folder, net.state_dict(), model_cfg, diffusion, meta)


def test_the_preset_bench_reports_host_floors_forward_and_every_presets_rtf(tmp_path, monkeypatch):
    export = _tiny_export(tmp_path / "tiny")
    monkeypatch.setattr(paths, "resolve_checkpoint", lambda _spec: export)
    monkeypatch.setattr(presets, "GEMM_N", 256)
    monkeypatch.setattr(presets, "FORWARD_SECONDS", 0.5)
    monkeypatch.setattr(presets, "QUICK_SECONDS", 0.5)
    monkeypatch.setattr(presets, "GEOMETRY", Geometry(0.5, 0.1, 0.02))
    rows = presets.main(quick=True)
    names = [r["name"] for r in rows]
    assert names[0].startswith("host [") and "cores" in names[0] and "GEMM 256²" in names[0]
    forwards = [r for r in rows if r["name"].startswith("forward ")]
    assert len(forwards) == 2 and all(r["value"] > 0 and r["baseline"] > 0 for r in forwards)
    assert any(n.startswith("bf16 auto decides: ") for n in names)
    base = next(r for r in rows if "today's default" in r["name"])
    assert base["ratio"] == 1.0 and base["value"] > 0
    rtf = [r for r in rows if r["name"].startswith("RTF") and "preset=" in r["name"]]
    assert len(rtf) == 2 * len(group_choices("preset"))
    for r in rtf:
        assert r["baseline"] == base["value"]
        assert math.isclose(r["ratio"], r["value"] / base["value"])
        assert "(--quick: shorter than 30 s)" in r["name"]  # a quick run says so
    for preset in group_choices("preset"):  # one precision of each preset is auto's
        mine = [r["name"] for r in rtf if f"preset={preset} " in r["name"]]
        assert sum("what bf16: auto runs here" in n for n in mine) == 1
    fit = next(r for r in rows if "one call per window, bf16, fitted" in r["name"])
    assert fit["baseline"] == base["value"] and math.isfinite(fit["value"])


def test_the_per_call_fit_recovers_a_line():
    offset, per_call = presets.per_call_fit(
        [9.0, 10.0, 20.0], [0.05 + 0.02 * c for c in (9, 10, 20)]
    )
    assert math.isclose(offset, 0.05, abs_tol=1e-9) and math.isclose(per_call, 0.02)
    offset, per_call = presets.per_call_fit([9.0, 10.0, 20.0], [1.0, 1.0, 2.8])  # noisy
    assert offset == 0.0 and math.isclose(per_call, (9 + 10 + 56) / (81 + 100 + 400))
