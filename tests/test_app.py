"""The web page's studio without a browser: limits, the model list, one pipeline, files,
cancel, one generation at a time, and the extender comparison (a tiny export, real files)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import soundfile as sf
import torch
from conftest import tone
from test_generate import make_export

from pianodiff.app.errors import AppError, GenerationCancelled
from pianodiff.app.limits import Limits, check_prompt_file
from pianodiff.app.models import ModelCache, list_exports
from pianodiff.app.progress import PageProgress
from pianodiff.app.studio import TABLE_HEADERS, Settings, Studio, StudioOptions
from pianodiff.conf import compose
from pianodiff.core.errors import UserError
from pianodiff.generation.plugins import WindowEvent
from pianodiff.generation.run import run_generation

SR = 22050
# Small windows keep every run to a few tiny network calls (as tests/test_generate.py).
FAST_VALUES = {
    "geometry.window_seconds": 0.5,
    "geometry.context_seconds": 0.1,
    "geometry.crossfade_seconds": 0.02,
}
FAST = Settings("repaint", seconds=0.7, sampler="ddim", steps=2)


def studio_options(root: Path, **limits) -> StudioOptions:
    """A models folder with one tiny export, outputs under ``root``, the fast geometry."""
    if not (root / "models" / "tiny").is_dir():
        make_export(root / "models" / "tiny")
    return StudioOptions(
        models=root / "models",
        outputs=root / "out",
        device="cpu",
        limits=Limits(**limits),
        values=dict(FAST_VALUES),
    )


@pytest.fixture
def studio(tmp_path) -> Studio:
    return Studio(studio_options(tmp_path))


@pytest.fixture
def prompt(tmp_path) -> Path:
    path = tmp_path / "prompt.wav"
    sf.write(path, tone(0.6), SR)
    return path


def test_a_continuation_is_the_cli_run_plus_the_page_files(studio, prompt, tmp_path):
    done = studio.continue_recording(FAST, prompt, "prompt.wav")
    meta = json.loads(done.result.sidecar.read_text())
    assert meta["extender"] == "repaint" and meta["sampler"] == "ddim2" and meta["seed"] == 0
    whole, new = sf.read(done.result.output)[0], sf.read(done.new_audio)[0]
    assert len(whole) == round(0.6 * SR) + round(0.7 * SR) and len(new) == round(0.7 * SR)
    assert done.figure.suffix == ".png" and done.figure.stat().st_size > 0
    assert done.history is None and done.files == [done.result.output, done.result.sidecar]
    # every file under the one outputs folder
    assert all(p.parent == tmp_path / "out" for p in [*done.files, done.new_audio, done.figure])
    # the command line, composed from the same settings, gives the same audio
    overrides = [f"{k}={v}" for k, v in FAST_VALUES.items()] + [
        "extender=repaint", "sampler=ddim", "sampler.num_steps=2", "seconds=0.7", "seed=0",
        f"prompt={prompt}", f"output={tmp_path / 'cli.wav'}", "progress=false", "device=cpu",
        f"checkpoint={tmp_path / 'models' / 'tiny'}",
    ]  # fmt: skip
    cli = run_generation(compose("generate", overrides))
    assert torch.equal(cli.audio, done.result.audio)
    assert f"{len(whole) / SR:.2f} s written" in done.summary()


def test_nothing_is_overwritten_and_a_drawn_seed_is_recorded(studio):
    first = studio.continue_recording(FAST)  # no prompt: an unconditional base window first
    second = studio.continue_recording(FAST)
    assert first.result.output != second.result.output
    assert torch.equal(first.result.audio, second.result.audio)  # same seed, same audio
    drawn = studio.continue_recording(Settings("repaint", 0.3, seed=None, sampler="ddim", steps=2))
    meta = json.loads(drawn.result.sidecar.read_text())
    assert isinstance(meta["seed"], int) and f"seed{meta['seed']}" in drawn.result.output.name
    assert len(sf.read(drawn.new_audio)[0]) == round(0.3 * SR)  # after the base window


def test_history_animation_when_asked(studio, prompt):
    done = studio.continue_recording(Settings(**{**FAST.__dict__, "history": True}), prompt)
    assert done.history is not None and done.history.suffix == ".gif"
    assert done.history.is_file() and done.history.parent == done.result.output.parent


def test_the_page_sets_presets_sampler_steps_and_harmony_through_config_keys(studio, tmp_path):
    out = tmp_path / "x.wav"
    cfg = studio.config(Settings("guidance", 1.0, seed=3, candidates=2), None, out)
    default = compose("generate")
    assert (
        cfg.sampler == default.sampler
        and cfg.extender == compose("generate", ["extender=guidance"]).extender
    )
    assert (cfg.seed, cfg.candidates, cfg.output, cfg.overwrite) == (3, 2, str(out), False)
    assert cfg.geometry.window_seconds == 0.5  # the server's --set values
    stepped = studio.config(Settings("repaint", 1.0, sampler="ddim", steps=4), None, out)
    assert stepped.sampler.num_steps == 4 and stepped.sampler._target_.endswith("ddim_plan")
    with pytest.raises(AppError, match="takes no step count"):
        studio.config(Settings("repaint", 1.0, sampler="ddpm", steps=4), None, out)
    if studio.has_presets():
        for preset in studio.choices("preset"):
            cfg = studio.config(Settings("repaint", 1.0, preset=preset), None, out)
            assert cfg.sampler == compose("generate", [f"preset={preset}"]).sampler
        chosen = studio.config(Settings("repaint", 1.0, preset="best", sampler="ddim"), None, out)
        assert chosen.sampler._target_.endswith("ddim_plan")  # an explicit sampler wins
    if studio.harmony_default() is not None:
        cfg = studio.config(Settings("repaint", 1.0, harmony=2.5), None, out)
        assert cfg.harmony.strength == 2.5


@pytest.mark.parametrize(
    ("make", "limits", "message"),
    [
        (lambda p: sf.write(p, tone(3.0), SR), {"prompt_seconds": 2}, "over the 2 s limit"),
        (lambda p: sf.write(p, tone(1.0), SR), {"upload_mb": 0.01}, "over the 0.01 MB upload"),
        (lambda p: p.write_text("not audio"), {}, "not a sound file this page can read"),
        (lambda p: sf.write(p, tone(0.0), SR), {}, "holds no audio"),
    ],
    ids=["too-long", "too-big", "not-audio", "empty"],
)
def test_a_bad_upload_is_one_line_naming_the_file(tmp_path, make, limits, message):
    path = tmp_path / "upload-1234" / "mine.wav"
    path.parent.mkdir()
    make(path)
    with pytest.raises(AppError, match=message) as err:
        check_prompt_file(path, Limits(**limits), "mine.wav")
    text = str(err.value)
    assert "\n" not in text and "mine.wav" in text and "upload-1234" not in text


def test_a_refused_request_leaves_nothing_behind(tmp_path, prompt):
    studio = Studio(studio_options(tmp_path, seconds=5, candidates=2))
    silent = tmp_path / "silent.wav"
    sf.write(silent, tone(1.0) * 0, SR)
    for settings, source, message in [
        (Settings("repaint", 6.0), None, "over the page's 5 s limit"),
        (Settings("repaint", 1.0, candidates=3), None, "over the page's limit of 2"),
        (Settings("nosuch", 1.0), None, "unknown extender 'nosuch'"),
        (Settings("repaint", 1.0, sampler="ddim", steps=2), silent, "silent"),
        (Settings("conditioned", 0.3, sampler="ddim", steps=2), None, "context-conditioned"),
    ]:
        with pytest.raises(UserError, match=message) as err:
            studio.continue_recording(settings, source, "mine.wav" if source else None)
        assert "\n" not in str(err.value) and str(tmp_path / "silent.wav") not in str(err.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cancel_stops_at_the_next_step_and_writes_nothing(studio, prompt, tmp_path):
    session = "browser-tab"

    def press_cancel(fraction: float, caption: str) -> None:
        if fraction > 0:  # the first network call is done: the user presses Cancel
            studio.cancel(session)

    with pytest.raises(GenerationCancelled, match="nothing was written"):
        studio.continue_recording(FAST, prompt, report=press_cancel, session=session)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not studio.cancel_flag(session).is_set()  # the next request runs
    studio.cancel(session)  # pressed while a comparison waits in the queue
    with pytest.raises(GenerationCancelled, match="after 0 of"):
        studio.compare(["repaint", "interpolation"], FAST, prompt, session=session)
    assert not any((tmp_path / "out").iterdir())  # not even its folder
    assert studio.continue_recording(FAST, prompt, session=session).result.output.is_file()


def test_progress_counts_every_network_call_and_ends_at_one():
    seen: list[tuple[float, str]] = []
    bar = PageProgress(lambda f, c: seen.append((f, c)), span=(0.5, 1.0), label="repaint")
    bar.on_start({"total_nfe": 6})
    bar.on_window(WindowEvent("start", 0, 1, "extend", 0, 10, 10))
    x = torch.zeros(2, 4)  # two candidates: each batched call is two evaluations
    for calls in (1, 2, 2, 3):  # the payload's running count of batched calls
        bar.on_step({"nfe": calls, "x_t": x})
    assert [f for f, _ in seen] == [0.5, 0.5 + 0.5 * 2 / 6, 0.5 + 0.5 * 4 / 6, 1.0]
    assert seen[-1][1] == "repaint: window 1/1 (extend) · 6/6 network calls"


def test_one_generation_at_a_time(studio, prompt):
    """Two requests from two threads: the second starts only after the first has finished."""
    events: list[str] = []

    def run(name: str) -> None:
        studio.continue_recording(FAST, prompt, report=lambda f, c: events.append(name))

    threads = [threading.Thread(target=run, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first = events[0]
    assert events == [first] * events.count(first) + [e for e in events if e != first]
    assert set(events) == {"a", "b"}


def test_compare_is_the_multirun_comparison(studio, prompt):
    done = studio.compare(["repaint", "interpolation"], FAST, prompt, "prompt.wav")
    assert [r["extender"] for r in done.rows] == ["repaint", "interpolation"]
    assert set(done.results) == {"repaint", "interpolation"}
    table = done.table()
    assert len(table) == 2 and len(table[0]) == len(TABLE_HEADERS)
    saved = json.loads((done.folder / "comparison.json").read_text())
    assert [r["extender"] for r in saved] == ["repaint", "interpolation"]
    assert done.panel == done.folder / "comparison.png" and done.panel.stat().st_size > 0
    for name, result in done.results.items():
        assert result.output == done.folder / f"{name}.wav" and result.meta["seed"] == 0
        assert len(result.audio) == round(0.6 * SR) + round(0.7 * SR)
    repaint, interpolation = done.rows
    assert repaint["nfe"] > interpolation["nfe"]  # RePaint walks back up the chain
    assert all(r["seam_score"] > 0 for r in done.rows)
    with pytest.raises(AppError, match="at least one extender"):
        studio.compare([], FAST, prompt)


def test_the_model_list_and_the_one_loaded_model(tmp_path):
    make_export(tmp_path / "a")
    make_export(tmp_path / "b")
    (tmp_path / "not-an-export").mkdir()
    assert list_exports(tmp_path) == [tmp_path / "a", tmp_path / "b"]
    assert list_exports(tmp_path / "missing") == []
    cache = ModelCache("cpu")
    first = cache.get(tmp_path / "a")
    assert cache.get(tmp_path / "a") is first and cache.loaded == (tmp_path / "a").resolve()
    assert cache.get(tmp_path / "b") is not first and cache.loaded == (tmp_path / "b").resolve()


def test_a_hostile_export_is_refused_by_the_safe_loader(tmp_path, prompt):
    studio = Studio(studio_options(tmp_path))
    bad = tmp_path / "models" / "bad"
    make_export(bad)
    config = (bad / "config.yaml").read_text()
    (bad / "config.yaml").write_text(config.replace("pianodiff.nets.DiffWave", "os.system"))
    assert str(bad) in studio.model_choices()
    with pytest.raises(UserError, match="os.system") as err:
        studio.continue_recording(FAST, prompt, model=bad)
    assert "\n" not in str(err.value)
