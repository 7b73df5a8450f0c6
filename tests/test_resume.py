"""Resume: train N steps, stop, resume -> the same run as training straight through."""

from __future__ import annotations

import torch
from conftest import smoke_train_overrides

from pianodiff.checkpoint.from_training import load_training_checkpoint
from pianodiff.training.run import compose_train_config, train


def smoke_overrides(tmp_path, audio_folder, steps: int, *extra: str) -> list[str]:
    return smoke_train_overrides(
        tmp_path,
        audio_folder,
        "data.val_fraction=0.25",
        f"trainer.max_steps={steps}",
        "trainer.val_check_interval=2",
        "callbacks.last_checkpoint.every_n_train_steps=1",
        "callbacks.demo_sampling=null",
        *extra,
    )


def fit(tmp_path, audio_folder, steps, run, *extra):
    cfg = compose_train_config(
        smoke_overrides(tmp_path, audio_folder, steps, f"paths.run_dir={tmp_path / run}", *extra)
    )
    return train(cfg)


def test_resume_continues_exactly(tmp_path, audio_folder):
    straight = fit(tmp_path, audio_folder, 4, "straight")
    first = fit(tmp_path, audio_folder, 2, "first")
    assert first["global_step"] == 2
    ckpt = tmp_path / "first" / "checkpoints" / "last.ckpt"
    saved = load_training_checkpoint(ckpt)
    assert saved["global_step"] == 2
    resumed = fit(tmp_path, audio_folder, 4, "resumed", f"ckpt_path={ckpt}")
    assert resumed["global_step"] == 4
    assert torch.isfinite(torch.tensor(resumed["metrics"]["train/loss"]))

    a, b = straight["module"], resumed["module"]
    # The data stream, t/eps draws, optimiser and EMA all continue: bit-identical weights.
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    assert int(b.ema.num_updates) == 4
    opt_a = straight["trainer"].optimizers[0].state_dict()["state"]
    opt_b = resumed["trainer"].optimizers[0].state_dict()["state"]
    assert int(opt_b[0]["step"]) == 4
    assert torch.equal(opt_a[0]["exp_avg"], opt_b[0]["exp_avg"])


def test_ckpt_path_last_finds_the_newest_run(tmp_path, audio_folder):
    fit(tmp_path, audio_folder, 2, "outputs/smoke/run_a")
    result = fit(tmp_path, audio_folder, 3, "outputs/smoke/run_b", "ckpt_path=last")
    assert result["global_step"] == 3
    assert (tmp_path / "outputs/smoke/run_b/checkpoints/last.ckpt").is_file()


def test_last_checkpoint_written_when_training_ends_between_intervals(tmp_path, audio_folder):
    # every_n_train_steps=4 would save at step 4 only; the run stops at 3.
    fit(tmp_path, audio_folder, 3, "odd", "callbacks.last_checkpoint.every_n_train_steps=4")
    saved = load_training_checkpoint(tmp_path / "odd" / "checkpoints" / "last.ckpt")
    assert saved["global_step"] == 3
    assert int(saved["state_dict"]["ema.num_updates"]) == 3
    # One last.ckpt: the periodic callback overwrites it instead of adding last-v1.ckpt.
    assert sorted(p.name for p in (tmp_path / "odd" / "checkpoints").glob("last*")) == ["last.ckpt"]
