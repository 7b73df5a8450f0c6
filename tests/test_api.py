"""The Python API: setup/infer as the original offered, and the Generator object."""

from __future__ import annotations

import pytest
import soundfile as sf
import torch
from conftest import tone
from test_generate import make_export

from pianodiff.api import Generator, infer, setup
from pianodiff.generation.device import pick_device
from pianodiff.generation.errors import GenerationError
from pianodiff.generation.geometry import Geometry
from pianodiff.generation.plugins import GenerationPlugin

SR = 22050
SMALL = Geometry(window_seconds=0.5, context_seconds=0.1, crossfade_seconds=0.02)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    return make_export(tmp_path_factory.mktemp("api") / "tiny")


def test_setup_and_infer(export, tmp_path):
    model, device = setup({"model_dir": str(export), "device": "cpu"})
    assert device == torch.device("cpu") and isinstance(model, Generator)
    sf.write(tmp_path / "g.wav", tone(1.0, sr=16000), 16000)  # another rate: resampled
    audio, rate = infer(
        model,
        "replacement",
        tmp_path / "g.wav",
        device,
        0.3,
        geometry=SMALL,
        sampler="ddim",
        sampler_params={"num_steps": 4},
        seed=1,
    )
    assert rate == SR and audio.shape == (SR + round(0.3 * SR),)
    # The whole recording (1 s at 16 kHz, resampled) opens the output, then the new audio.
    assert model.last.base_samples == SR


def test_generator_extend_and_generate(export):
    gen = Generator.from_checkpoint(export, device="cpu")
    prompt = 0.2 * torch.sin(torch.arange(SR) / SR * 2 * torch.pi * 262)
    steps = []

    class Steps(GenerationPlugin):
        def on_step(self, payload):
            steps.append(payload["window"])

    out, rate = gen.extend(
        prompt, 0.4, extender="repaint", sampler="fast", geometry=SMALL, plugins=[Steps()]
    )
    assert rate == SR and out.shape == (SR + round(0.4 * SR),)
    # RePaint keeps the known context exactly, so even the crossfade leaves the prompt as is.
    assert torch.allclose(out[:SR], prompt, atol=1e-6)
    assert steps and set(steps) == {0}
    a, _ = gen.generate(
        0.2, geometry=SMALL, sampler="ddim", sampler_params={"num_steps": 4}, seed=5
    )
    b, _ = gen.generate(
        0.2, geometry=SMALL, sampler="ddim", sampler_params={"num_steps": 4}, seed=5
    )
    assert torch.equal(a, b) and a.shape == (round(0.7 * SR),)
    # the default sampler (dpmpp_2m_sde, 10 steps) needs T >= 10; this export has T = 8
    lin, _ = gen.extend(
        prompt, 0.2, extender="interpolation", sampler="fast", schedule="linear", geometry=SMALL
    )
    assert torch.isfinite(lin).all()


def test_bad_requests(export):
    gen = Generator.from_checkpoint(export, device="cpu")
    with pytest.raises(GenerationError, match="choose one of: .*guidance, interpolation"):
        gen.generate(1.0, extender="nope")
    with pytest.raises(GenerationError, match="choose one of: ddim, ddpm, dpmpp_2m"):
        gen.generate(1.0, sampler="nope")
    with pytest.raises(GenerationError, match="seconds"):
        gen.generate(0)
    with pytest.raises(ValueError, match="NaN"):
        gen.extend(torch.tensor([0.1, float("nan")]), 1.0)


def test_device_choice():
    assert pick_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else None
    assert pick_device(None).type == (expected or pick_device("auto").type)
    if not torch.cuda.is_available():
        with pytest.raises(GenerationError, match="CUDA"):
            pick_device("cuda")


def test_api_defaults_follow_the_cli():
    """Generator.extend with no extender/sampler builds what `pianodiff.generate` composes."""
    from hydra import compose, initialize_config_dir

    from pianodiff.conf import CONF_DIR, primary_defaults
    from pianodiff.generation.configs import generate_settings

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose("generate", return_hydra_config=True)
    choices = cfg.hydra.runtime.choices
    assert primary_defaults("generate")["extender"] == choices["extender"]
    assert primary_defaults("generate")["sampler"] == choices["sampler"]
    api = generate_settings()
    assert api.extender == cfg.extender and api.sampler == cfg.sampler
    assert api.geometry == cfg.geometry and api.seed == cfg.seed
