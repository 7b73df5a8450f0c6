"""One generation pipeline: the command line, the Python API and the evaluation harness all
reach ``generation/pipeline.generate_with``, and the same request gives the same audio."""

from __future__ import annotations

import ast
from pathlib import Path

import soundfile as sf
import torch
from conftest import tone
from test_generate import make_export

from pianodiff.api import Generator
from pianodiff.conf import compose
from pianodiff.generation.pipeline import GenerationRequest, draw_seed, request_from_config
from pianodiff.generation.run import run_generation

ROOT = Path(__file__).resolve().parents[1]
SR = 22050
SETTINGS = {
    "sampler": "ddim",
    "extender": "repaint",
    "geometry.window_seconds": 0.5,
    "geometry.context_seconds": 0.1,
    "geometry.crossfade_seconds": 0.02,
}


def _calls_to(name: str, folder: Path) -> set[str]:
    """Files under ``folder`` that call ``name(...)`` (a plain or attribute call)."""
    found = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                called = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
                if called == name:
                    found.add(path.relative_to(ROOT).as_posix())
    return found


def test_the_windowed_engine_is_driven_by_the_pipeline_alone():
    """No second pipeline: only generation/pipeline.py builds the windowed engine, and every
    product caller (CLI body, API, benchmarks) calls the pipeline's generate_with."""
    engines = _calls_to("WindowedGenerator", ROOT / "src") | _calls_to(
        "WindowedGenerator", ROOT / "benchmarks"
    )
    assert engines == {"src/pianodiff/generation/pipeline.py"}
    callers = _calls_to("generate_with", ROOT / "src" / "pianodiff")
    assert {"src/pianodiff/generation/run.py", "src/pianodiff/api.py"} <= callers
    harness = (ROOT / "src/pianodiff/evaluation/run_cases.py").read_text()
    assert "from pianodiff.api import Generator" in harness  # the harness goes through the API


def test_cli_and_api_give_the_same_audio_for_the_same_request(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    export = make_export(tmp_path / "tiny")
    sf.write(tmp_path / "p.wav", tone(0.6), SR)
    overrides = [
        "sampler=ddim",
        "sampler.num_steps=3",
        "extender=repaint",
        "geometry.window_seconds=0.5",
        "geometry.context_seconds=0.1",
        "geometry.crossfade_seconds=0.02",
        f"checkpoint={export}",
        "prompt=p.wav",
        "seconds=0.7",
        "seed=5",
        "device=cpu",
        "progress=false",
        "output=out.wav",
        "bf16=false",  # as the API's default: bf16=auto would time the host, which may differ
    ]
    cli = run_generation(compose("generate", overrides))
    api, rate = Generator.from_checkpoint(export, "cpu").extend(
        tmp_path / "p.wav",
        0.7,
        extender="repaint",
        sampler="ddim",
        sampler_params={"num_steps": 3},
        seed=5,
        settings={k: v for k, v in SETTINGS.items() if k.startswith("geometry")},
    )
    written, _ = sf.read(tmp_path / "out.wav", dtype="float32")
    assert rate == SR and torch.equal(cli.audio, api)
    assert torch.allclose(torch.from_numpy(written), api, atol=1 / 32767)


def test_a_null_seed_is_drawn_once_in_the_request_and_recorded(tmp_path):
    cfg = compose("generate", ["seed=null", "seconds=0.1"])
    first, second = request_from_config(cfg), request_from_config(cfg)
    assert isinstance(first.seed, int) and 0 <= first.seed < 2**32
    assert first.seed != second.seed or first.seed != draw_seed()


def test_a_request_checks_its_values_whoever_builds_it():
    cfg = compose("generate", ["seconds=0.1"])
    good = request_from_config(cfg)
    for field, value, message in [
        ("seconds", 0, "seconds must be > 0"),
        ("candidates", 0, "candidates must be"),
        ("seed", -1, "seed must be"),
    ]:
        try:
            GenerationRequest(**{**good.__dict__, field: value})
        except ValueError as err:
            assert message in str(err)
        else:
            raise AssertionError(f"{field}={value} was accepted")
