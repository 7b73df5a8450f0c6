"""The generate entrypoint: real Hydra composition, a tiny exported checkpoint, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import tone
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from pianodiff.checkpoint.export import export_model
from pianodiff.conf import CONF_DIR
from pianodiff.core.audio import AudioError
from pianodiff.generation.errors import GenerationError
from pianodiff.generation.paths import BUNDLED_CHECKPOINT
from pianodiff.generation.run import run_generation

SR = 22050
CONF = CONF_DIR
# Small windows and a 2-level DDIM plan keep every run to a few tiny network calls.
FAST = [
    "geometry.window_seconds=0.5",
    "geometry.context_seconds=0.1",
    "geometry.crossfade_seconds=0.02",
    "sampler=ddim",
    "sampler.num_steps=2",
    "progress=false",
]


def make_export(folder: Path) -> Path:
    """A tiny DiffWave exported the way training exports (safetensors + config)."""
    torch.manual_seed(0)
    model_cfg = OmegaConf.load(CONF / "model" / "tiny.yaml")
    net = instantiate(model_cfg)
    torch.nn.init.normal_(net.output_projection.weight, std=0.2)
    diffusion = {
        "_target_": "pianodiff.diffusion.schedule.linear_schedule",
        "num_steps": 8,
        "beta_start": 1e-4,
        "beta_end": 0.25,
    }
    return export_model(folder, net.state_dict(), model_cfg, diffusion, {"sample_rate": SR})


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_export(tmp_path_factory.mktemp("ckpt") / "tiny")


def config(*overrides: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        return compose("generate", overrides=[*FAST, *overrides])


def test_default_config_composes_and_is_cheap():
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose("generate")
        original = compose("generate", overrides=["geometry=original"])
    # the standard preset: DPM-Solver++(2M) SDE, eta = 1, 10 calls a window (docs/generation.md)
    assert cfg.preset.name == "standard"
    assert cfg.sampler.solver._target_.endswith("dpmpp_2m_sde") and cfg.sampler.num_steps == 10
    assert cfg.extender.schedule == "original"
    assert original.sampler._target_.endswith("ddpm_plan")
    assert original.extender._target_.endswith("Interpolation")
    assert original.geometry.context_seconds == 4.0 and original.geometry.window_seconds == 5.0


@pytest.mark.parametrize("extender", ["replacement", "repaint", "interpolation", "guidance"])
def test_run_generation_writes_wav_and_sidecar(tmp_path, checkpoint, extender):
    out = tmp_path / "o" / "gen.wav"
    cfg = config(f"checkpoint={checkpoint}", f"extender={extender}", "seconds=0.7", f"output={out}")
    result = run_generation(cfg)
    data, rate = sf.read(out)
    assert rate == SR and sf.info(out).subtype == "PCM_16"
    assert len(data) == round(0.5 * SR) + round(0.7 * SR) == len(result.audio)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["extender"] == extender and meta["sampler"] == "ddim2" and meta["seed"] == 0
    # The unconditional base window walks the plain 2 levels of ddim2 (no known region to
    # inpaint); every extension window costs the extender's declared NFE.
    assert meta["nfe"] == 2 + meta["nfe_per_window"] * len(meta["seams_samples"])
    assert meta["seams_samples"][0] == round(0.5 * SR) and meta["wall_seconds"] > 0
    assert meta["network_audio_seconds_per_output_second"] > 0


def test_same_seed_same_audio_and_candidates(tmp_path, checkpoint):
    a = run_generation(
        config(f"checkpoint={checkpoint}", "seconds=0.5", f"output={tmp_path}/a.wav")
    )
    b = run_generation(
        config(f"checkpoint={checkpoint}", "seconds=0.5", f"output={tmp_path}/b.wav")
    )
    assert torch.equal(a.audio, b.audio)
    c = run_generation(
        config(
            f"checkpoint={checkpoint}", "seconds=0.5", "candidates=3", f"output={tmp_path}/c.wav"
        )
    )
    assert c.meta["candidates"] == 3 and len(c.audio) == len(a.audio)


def test_prompt_stereo_other_rate_and_short(tmp_path, checkpoint):
    stereo = np.stack([tone(1.0, sr=44100), tone(1.0, sr=44100)], axis=1)
    sf.write(tmp_path / "stereo.wav", stereo, 44100)
    result = run_generation(
        config(
            f"checkpoint={checkpoint}",
            f"prompt={tmp_path}/stereo.wav",
            "seconds=0.3",
            f"output={tmp_path}/s.wav",
        )
    )
    assert len(result.audio) == SR + round(0.3 * SR)  # the whole (resampled) recording + new
    sf.write(tmp_path / "short.wav", tone(0.05), SR)  # shorter than the 0.1 s context
    short = run_generation(
        config(
            f"checkpoint={checkpoint}",
            f"prompt={tmp_path}/short.wav",
            "seconds=0.3",
            f"output={tmp_path}/short_out.wav",
        )
    )
    assert len(short.audio) == round(0.05 * SR) + round(0.3 * SR)


def _bad_grounds(folder: Path) -> dict[str, Path]:
    (folder / "text.wav").write_text("not audio")
    sf.write(folder / "empty.wav", np.zeros(0, dtype=np.float32), SR)
    sf.write(folder / "silent.wav", np.zeros(SR, dtype=np.float32), SR)
    nan = tone(0.5)
    nan[100] = np.nan
    sf.write(folder / "nan.wav", nan, SR, subtype="FLOAT")
    return {
        "not found": folder / "missing.wav",
        "cannot read": folder / "text.wav",
        "no samples": folder / "empty.wav",
        "silent": folder / "silent.wav",
        "NaN": folder / "nan.wav",
    }


def test_bad_ground_files_fail_before_writing(tmp_path, checkpoint):
    out = tmp_path / "out" / "x.wav"
    for message, path in _bad_grounds(tmp_path).items():
        cfg = config(f"checkpoint={checkpoint}", f"ground_file={path}", f"output={out}")
        with pytest.raises(AudioError, match=message):
            run_generation(cfg)
    assert not out.parent.exists() or not any(out.parent.iterdir())


@pytest.mark.parametrize(
    "override,message",
    [
        ("seconds=0", "seconds must be > 0"),
        ("seconds=-1", "seconds must be > 0"),
        ("seconds=4000", "1 h limit"),
        ("seconds=1e-7", "one sample"),
        ("seconds=abc", "a number"),
        ("candidates=0", "candidates"),
        ("geometry.context_seconds=0.5", "context_seconds"),
    ],
)
def test_bad_numbers(tmp_path, checkpoint, override, message):
    cfg = config(f"checkpoint={checkpoint}", override, f"output={tmp_path}/x.wav")
    with pytest.raises(GenerationError, match=message):
        run_generation(cfg)
    assert not (tmp_path / "x.wav").exists()


def test_unknown_extender_lists_choices():
    with pytest.raises(HydraException, match="repaint"):
        config("extender=nope")


def test_output_rules(tmp_path, checkpoint):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(GenerationError, match="cannot write"):
        run_generation(config(f"checkpoint={checkpoint}", f"output={tmp_path}/afile/x.wav"))
    existing = tmp_path / "keep.wav"
    existing.write_bytes(b"precious")
    with pytest.raises(GenerationError, match="overwrite=true"):
        run_generation(config(f"checkpoint={checkpoint}", f"output={existing}"))
    assert existing.read_bytes() == b"precious"
    run_generation(
        config(f"checkpoint={checkpoint}", f"output={existing}", "overwrite=true", "seconds=0.2")
    )
    assert sf.info(existing).samplerate == SR


def test_missing_bundled_checkpoint_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PIANODIFF_ROOT", str(tmp_path))
    with pytest.raises(GenerationError, match="export_checkpoint"):
        run_generation(config(f"output={tmp_path}/x.wav"))


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIANODIFF_ROOT": str(cwd)}
    cmd = [sys.executable, "-m", "pianodiff.generate", *FAST, *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.slow
def test_cli_end_to_end(tmp_path):
    make_export(tmp_path / BUNDLED_CHECKPOINT)  # the bundled default
    done = _cli(["extender=repaint", "seconds=0.6"], tmp_path)
    assert done.returncode == 0, done.stderr
    wavs = list((tmp_path / "outputs" / "generated").glob("*.wav"))
    assert len(wavs) == 1 and "repaint" in wavs[0].name
    assert sf.info(wavs[0]).frames == round(0.5 * SR) + round(0.6 * SR)
    sf.write(tmp_path / "g.wav", tone(1.0), SR)
    done = _cli(["ground_file=g.wav", "seconds=0.3", "output=out.wav"], tmp_path)
    assert done.returncode == 0, done.stderr
    sidecar = json.loads((tmp_path / "out.json").read_text())
    assert sidecar["prompt"] == sidecar["ground_file"] == "g.wav"  # the older key still works


def _main(args: list[str], cwd: Path, monkeypatch) -> int:
    """The Hydra entrypoint in-process (as the console script runs it); returns the exit code."""
    from pianodiff.generate import main

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["generate", *FAST, *args])
    try:
        main()
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def test_main_bad_input_one_line_and_nothing_lost(tmp_path, checkpoint, monkeypatch, capsys):
    sf.write(tmp_path / "g.wav", tone(1.0), SR)
    common = [f"checkpoint={checkpoint}", "seconds=0.2", "output=out.wav"]
    assert _main(["ground_file=g.wav", *common], tmp_path, monkeypatch) == 0
    before = (tmp_path / "out.wav").read_bytes()
    capsys.readouterr()
    assert _main(["ground_file=g.wav", *common], tmp_path, monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "overwrite=true" in err[0]
    assert (tmp_path / "out.wav").read_bytes() == before
    assert _main(["ground_file=missing.wav", *common, "overwrite=true"], tmp_path, monkeypatch) == 2
    assert capsys.readouterr().err.startswith("error: audio file not found")
    assert (tmp_path / "out.wav").read_bytes() == before
