"""``pianodiff.train`` under hostile input: exit 2, one ``error:`` line naming the problem
and the fix (the last line on stderr), no run folder left behind, the source checkpoint
untouched, and a hostile file's payload never run. Also: what a resume checkpoint holds
(plain containers, so weights-only loading reads it) and the time-based ``last.ckpt``.

The Hydra entrypoint runs in-process (a subprocess per case would mostly import torch).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import soundfile as sf
import torch
from conftest import SR, tone
from hostile import (
    PICKLE_KINDS,
    RESOURCE_KINDS,
    bomb_checkpoint,
    evil_checkpoint,
    evil_export,
    victim_file,
)

from pianodiff.checkpoint.ckpt_io import CONFIG_KEY
from pianodiff.checkpoint.from_training import load_training_checkpoint
from pianodiff.core.errors import USER_ERROR_EXIT
from pianodiff.training.run import compose_train_config, train

BASE = [
    "experiment=smoke",
    "data=folder",
    "data.segment_seconds=0.1",
    "data.batch_size=2",
    "trainer.max_steps=2",
    "callbacks.demo_sampling=null",
    "callbacks.history_panel=null",
    "callbacks.reference_losses=null",
]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> dict[str, Path]:
    """One real 3-step run (its .ckpt) and audio, shared by the cases of this file."""
    root = tmp_path_factory.mktemp("hostile_train")
    audio = root / "audio"
    audio.mkdir()
    for i, freqs in enumerate([(220.0, 277.2), (261.6, 329.6), (196.0, 246.9)]):
        sf.write(audio / f"piece{i}.wav", tone(1.0, freqs), SR)
    cfg = compose_train_config(
        [*BASE, f"data.root={audio}", "trainer.max_steps=3", f"paths.run_dir={root / 'run'}"]
    )
    train(cfg)
    return {"audio": audio, "ckpt": root / "run" / "checkpoints" / "last.ckpt", "root": root}


def run_main(args: list[str], monkeypatch) -> int:
    from pianodiff.train import main

    monkeypatch.setattr(sys, "argv", ["pianodiff-train", *args])
    try:
        main()
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def error_line(stderr: str) -> str:
    """The one ``error:`` line, which must also be the last line of stderr."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], lines[-5:]
    return errors[0]


# -- set-ups: (tmp folder, source) -> overrides ---------------------------------------------


def evil_pickle(flag: str, kind: str) -> Callable:
    def make(tmp: Path, src: dict) -> list[str]:
        base = torch.load(src["ckpt"], weights_only=True)  # a real checkpoint + one payload
        path = evil_checkpoint(tmp / f"evil_{kind}.ckpt", tmp / "marker", kind, base)
        return [f"{flag}={path}"]

    return make


def pickled_bomb(flag: str) -> Callable:
    def make(tmp: Path, src: dict) -> list[str]:
        base = torch.load(src["ckpt"], weights_only=True)  # a real checkpoint, its config shared
        return [f"{flag}={bomb_checkpoint(tmp / 'bomb.ckpt', base)}"]

    return make


def evil_folder(kind: str) -> Callable:
    def make(tmp: Path, src: dict) -> list[str]:
        folder = evil_export(tmp / "evil_export", kind, tmp / "marker", tmp / "victim.txt")
        return [f"init_from={folder}"]

    return make


def edited_checkpoint(edit: Callable[[dict], None], flag: str = "ckpt_path") -> Callable:
    def make(tmp: Path, src: dict) -> list[str]:
        ckpt = torch.load(src["ckpt"], weights_only=True)
        edit(ckpt)
        torch.save(ckpt, tmp / "edited.ckpt")
        return [f"{flag}={tmp / 'edited.ckpt'}"]

    return make


def _drop_optimizer_name(ckpt: dict) -> None:
    del ckpt[CONFIG_KEY]["optimizer"]  # as written before the name was stored


def _foreign_model(ckpt: dict) -> None:
    ckpt[CONFIG_KEY]["model"] = {"_target_": "builtins.open", "_args_": ["victim.txt", "w"]}


def overrides(*args: str) -> Callable:
    def make(tmp: Path, src: dict) -> list[str]:
        return [a.format(ckpt=src["ckpt"], tmp=tmp) for a in args]

    return make


REFUSED = ["refused, nothing was run"]
CASES = [
    *[(f"init_from pickle {k}", evil_pickle("init_from", k), REFUSED) for k in PICKLE_KINDS],
    *[(f"ckpt_path pickle {k}", evil_pickle("ckpt_path", k), REFUSED) for k in PICKLE_KINDS],
    *[
        (f"init_from export {k}", evil_folder(k), REFUSED)
        for k in ("torch_load", "open_write", "nested_net", "import_side_effect", *RESOURCE_KINDS)
    ],
    *[(f"{flag} pickled bomb", pickled_bomb(flag), REFUSED) for flag in ("init_from", "ckpt_path")],
    (
        "optimizer SGD vs Adam",
        overrides("ckpt_path={ckpt}", "module.optimizer._target_=torch.optim.SGD"),
        ["trained with optimizer torch.optim.adam.Adam, not torch.optim.sgd.SGD", "init_from="],
    ),
    (
        "optimizer AdamW vs Adam",
        overrides("ckpt_path={ckpt}", "module.optimizer._target_=torch.optim.AdamW"),
        ["not torch.optim.adamw.AdamW", "resume with the optimizer it was trained with"],
    ),
    (
        "optimizer of an older checkpoint",
        lambda tmp, src: (
            edited_checkpoint(_drop_optimizer_name)(tmp, src)
            + ["module.optimizer._target_=torch.optim.SGD"]
        ),
        ["does not fit torch.optim.sgd.SGD", "betas"],
    ),
    ("ckpt_path missing", overrides("ckpt_path={tmp}/nope.ckpt"), ["checkpoint not found"]),
    (
        "ckpt_path corrupt",
        lambda tmp, src: (tmp / "c.ckpt").write_bytes(b"junk") and [f"ckpt_path={tmp}/c.ckpt"],
        ["corrupt or not a PyTorch checkpoint"],
    ),
    (
        "ckpt_path other model",
        overrides("ckpt_path={ckpt}", "model=small"),
        ["trained with model", "resume with the same model="],
    ),
    (
        "resume and warm start",
        overrides("ckpt_path={ckpt}", "init_from={ckpt}"),
        ["either ckpt_path= (resume) or init_from="],
    ),
    ("ckpt_path=last, no runs", overrides("ckpt_path=last"), ["ckpt_path=last: no", "train first"]),
    (
        "init_from foreign model config",
        edited_checkpoint(_foreign_model, "init_from"),
        ["holds model", "warm-start with the same model="],
    ),
    ("data folder empty", overrides("data.root={tmp}/empty_dir"), ["empty_dir", "data.root"]),
    ("data folder missing", overrides("data.root={tmp}/nowhere"), ["nowhere", "data.root"]),
]


@pytest.mark.parametrize("case_id,setup,expect", CASES, ids=[c[0] for c in CASES])
def test_refused_with_one_line_and_no_run_folder(
    case_id, setup, expect, source, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty_dir").mkdir()
    victim = victim_file(tmp_path / "victim.txt")
    extra = setup(tmp_path, source)
    if isinstance(extra, bool):  # the corrupt-file set-up returns the list after a write
        extra = []
    export = tmp_path / "evil_export"
    if export.is_dir():
        monkeypatch.syspath_prepend(str(export))  # makes the import_side_effect case live
    source_bytes = source["ckpt"].read_bytes()
    outputs = tmp_path / "outputs"
    data = (
        [] if any(a.startswith("data.root=") for a in extra) else [f"data.root={source['audio']}"]
    )
    args = [*BASE, *data, f"paths.output_dir={outputs}", *extra]
    capsys.readouterr()
    assert run_main(args, monkeypatch) == USER_ERROR_EXIT
    line = error_line(capsys.readouterr().err)
    for text in expect:
        assert text in line, (text, line)
    assert not (tmp_path / "marker").exists() and victim.read_text() == "precious\n"
    assert not outputs.exists()  # no run folder, no empty folders above it
    assert source["ckpt"].read_bytes() == source_bytes
    assert "evilmod" not in sys.modules


def test_resume_checkpoint_is_plain_and_loads_weights_only(source):
    """Every entry of a checkpoint written with the default callbacks unpickles with
    weights_only=True: its config is plain dicts, and it names its optimiser."""
    ckpt = torch.load(source["ckpt"], map_location="cpu", weights_only=True)
    config = ckpt[CONFIG_KEY]
    assert type(config) is dict and type(config["model"]) is dict
    assert config["optimizer"] == "torch.optim.adam.Adam"
    assert any(k.startswith("TimedLastCheckpoint") for k in ckpt["callbacks"])
    assert load_training_checkpoint(source["ckpt"])["global_step"] == 3


def test_last_checkpoint_is_written_by_time(source, tmp_path):
    """With only the clock-based callback left, last.ckpt still follows training."""
    default = compose_train_config([])
    assert 0 < default.callbacks.timed_checkpoint.seconds <= 60  # a kill loses <= 1 min
    run = tmp_path / "run"
    cfg = compose_train_config(
        [
            *BASE,
            f"data.root={source['audio']}",
            f"paths.run_dir={run}",
            "trainer.max_steps=3",
            "callbacks.last_checkpoint=null",
            "callbacks.save_on_stop=null",
            "callbacks.best_checkpoint=null",
            "callbacks.export=null",
            "callbacks.timed_checkpoint.seconds=0",  # every step: the clock always says due
        ]
    )
    train(cfg)
    saved = load_training_checkpoint(run / "checkpoints" / "last.ckpt")
    assert saved["global_step"] == 3
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.ckpt"]  # no temp
