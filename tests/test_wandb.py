"""W&B logging of a generate run: a real offline run, read back from its folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from test_history import CONF, tiny_export

from pianodiff.tracking.generate_run import read_offline_records, sweep_group


def records_by_kind(run_dir: Path) -> dict[str, list]:
    """The records of an offline run, by kind. W&B's service writes the run file after
    ``finish`` returns; ``teardown`` waits for it (a real reader sees it after exit)."""
    import wandb

    wandb.teardown()
    out: dict[str, list] = {}
    for r in read_offline_records(run_dir):
        out.setdefault(r.WhichOneof("record_type"), []).append(r)
    return out


def test_sweep_group_is_shared_by_every_job_of_a_sweep(tmp_path):
    sweep = tmp_path / "multirun" / "2026-11-25" / "10-30-00"
    assert sweep_group(sweep) == "2026-11-25-10-30-00"
    assert sweep_group(sweep / ".") == sweep_group(sweep)


@pytest.mark.slow
def test_generate_logs_an_offline_run_under_the_output_folder(tmp_path, monkeypatch):
    from pianodiff.generation.run import run_generation

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    ckpt = tiny_export(tmp_path / "ckpt")
    out = tmp_path / "out" / "piece.wav"
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose(
            "generate",
            overrides=[
                f"checkpoint={ckpt}", f"output={out}", "seconds=0.5", "history=true",
                "wandb.enabled=true", "extender=interpolation",
                "sampler=ddim", "sampler.num_steps=3", "progress=false",
                "geometry.window_seconds=0.5", "geometry.context_seconds=0.1",
            ],
        )  # fmt: skip
    result = run_generation(cfg)
    run_dir = Path(result.meta["wandb_run_dir"])
    assert run_dir.parent == out.parent / "wandb" and run_dir.name.startswith("offline-run-")
    assert not (cwd / "wandb").exists()  # never the current directory
    media = run_dir / "files" / "media"
    assert len(list((media / "audio").glob("*.wav"))) == 1
    assert len(list((media / "videos").glob("*.gif"))) == 1  # the history animation
    assert len(list((media / "images").glob("*.png"))) == 2  # mel + cost/seams
    kinds = records_by_kind(run_dir)
    run = kinds["run"][0].run
    assert run.job_type == "generate" and run.display_name.startswith("interpolation")
    config = {i.key: json.loads(i.value_json) for i in run.config.update}
    assert config["extender"]["_target_"].endswith("Interpolation")
    summary = {
        i.key: json.loads(i.value_json) for r in kinds["summary"] for i in r.summary.update if i.key
    }
    assert summary["extender"] == "interpolation" and summary["nfe"] == result.meta["nfe"]
    scores = result.meta["seam_scores"]
    assert summary["seam_score_mean"] == pytest.approx(sum(scores) / len(scores))
    logged = {i.key or i.nested_key[0] for r in kinds["history"] for i in r.history.item}
    assert {"audio", "history", "mel", "cost_and_seams"} <= logged
