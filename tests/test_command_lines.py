"""Strict command lines and per-entrypoint help, through the real console-script entrypoints.

Every refusal is one line on stderr naming the nearest valid keys or the available options,
exit status 2, and happens before Hydra makes a run folder (the working folder stays empty).
"""

from __future__ import annotations

import ast
import importlib
import sys

import pytest
from omegaconf import OmegaConf

from pianodiff.cli.help import leaves
from pianodiff.cli.strict import check_command_line, own_groups
from pianodiff.conf import CONF_DIR


def _run(entry: str, args: list[str], cwd, monkeypatch, capsys) -> tuple[int, list[str], str]:
    """(exit status, stderr lines, stdout) of ``python -m pianodiff.<entry> ARGS`` in-process,
    refused or asking for help (neither runs the app)."""
    main = importlib.import_module(f"pianodiff.{entry}").main
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", [f"pianodiff-{entry}", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main()
    out = capsys.readouterr()
    return int(stop.value.code or 0), out.err.strip().splitlines(), out.out


REFUSED = [
    # (entrypoint, arguments, what the one line must say)
    (
        "generate",
        ["+extendr=repaint", "seconds=1"],
        "'extendr' for generate; nearest valid keys: extender",
    ),
    ("generate", ["extendr=repaint"], "nearest valid keys: extender"),
    ("generate", ["+model=base"], "model= is an option of python -m pianodiff.train"),
    ("generate", ["model=base"], "unknown key 'model' for generate"),
    (
        "generate",
        ["extender=repiant"],
        "(did you mean repaint?); choose one of: conditioned, guidance, interpolation, repaint,",
    ),
    ("generate", ["-m", "extender=interpolation,repiant"], "unknown extender 'repiant'"),
    (
        "generate",
        ["sampler=fsat"],
        "'fsat' (did you mean fast?); choose one of: ddim, ddpm, dpmpp_2m",
    ),
    ("generate", ["geometry=orignal"], "choose one of: default, original"),
    ("generate", ["sampler=ddim", "sampler.num_step=3"], "nearest valid keys: sampler.num_steps"),
    ("generate", ["+sampler.inference_betas=[0.5]"], "unknown key 'sampler.inference_betas'"),
    (
        "generate",
        ["-m", "extender=interpolation,repaint", "extender.jump_length=3"],
        "(with extender=interpolation)",
    ),
    ("generate", ["+seconds=3"], "seconds is already in the config; drop the '+': seconds=3"),
    ("generate", ["geometry.window=3"], "nearest valid keys: geometry.window_seconds"),
    ("generate", ["wandb.enabled.x=1"], "wandb.enabled is a single value"),
    ("generate", ["seconds=[1,"], "cannot parse"),
    ("train", ["mdoel=base"], "unknown key 'mdoel' for train; nearest valid keys: model"),
    ("train", ["experiment=smok"], "unknown experiment 'smok' (did you mean smoke?)"),
    (
        "train",
        ["data=folders"],
        "(did you mean folder?); choose one of: folder, melodies, piano14",
    ),
    ("train", ["logger=wandbb"], "choose one of: csv, wandb"),
    ("train", ["sampler@callbacks.demo_sampling.sampler=ddmi"], "unknown sampler 'ddmi'"),
    ("train", ["trainer=gpuu"], "choose one of: cpu, ddp, default, gpu"),
    (
        "train",
        ["experiment=smoke", "+trainer.max_tme=00:00:01:00"],
        "nearest valid keys: trainer.max_time",
    ),
    (
        "train",
        ["experiment=smoke", "trainer.max_time=00:00:01:00"],
        "add it with +trainer.max_time=00:00:01:00",
    ),
    ("train", ["experiment=smoke", "+module.optimizer.wd=0.1"], "nearest valid keys:"),
    ("train", ["extender=repaint"], "extender= is an option of python -m pianodiff.generate"),
    (
        "evaluate",
        ["extenders=[replacement,repiant]"],
        "'repiant' in extenders (did you mean repaint?)",
    ),
    ("evaluate", ["samplers=[fst]"], "unknown sampler 'fst' in samplers"),
    (
        "evaluate",
        ["+extender_params.repaint.n_resampl=3"],
        "nearest valid keys: extender_params.repaint.n_resample",
    ),
    (
        "evaluate",
        ["+extender_params.repiant.n_resample=3"],
        "unknown extender 'repiant' in extender_params",
    ),
    ("evaluate", ["extender=repaint"], "unknown key 'extender' for evaluate"),
    ("evaluate", ["gap.gaps=[100]"], "nearest valid keys: gap.gaps_ms"),
    (
        "evaluate",
        ["sampler_params={ddim:{num_steps:2}}"],
        "Hydra cannot merge; write them one by one: +sampler_params.ddim.num_steps=2",
    ),
    (
        "evaluate",
        ["sampler_params={ddmi:{num_steps:2}}"],
        "in sampler_params={ddmi:{num_steps:2}}: unknown sampler 'ddmi' in sampler_params",
    ),
    (
        "generate",
        ["wandb={enabld:false}"],
        "in wandb={enabld:false}: unknown key 'wandb.enabld' for generate; nearest valid keys: "
        "wandb.enabled",
    ),
]


@pytest.mark.parametrize("entry,args,message", REFUSED)
def test_refused_in_one_line_before_anything_is_made(
    entry, args, message, tmp_path, monkeypatch, capsys
):
    (tmp_path / "work").mkdir()
    code, err, _ = _run(entry, args, tmp_path / "work", monkeypatch, capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert list((tmp_path / "work").iterdir()) == []  # no run folder, no outputs


ACCEPTED = [
    ("generate", ["-m", "extender=interpolation,repaint", "history=true", "seconds=4"]),
    ("generate", ["sampler=ddim", "sampler.num_steps=10", "sampler.eta=0.5"]),
    ("generate", ["-m", "extender=glob(repa*)", "extender.n_resample=2"]),  # repaint only
    (
        "generate",
        ["++hydra.callbacks.compare._target_=pianodiff.tracking.comparison.CompareExtenders"],
    ),
    ("generate", ["geometry=original", "~wandb", "include_prompt=false"]),
    ("train", ["experiment=smoke", "+trainer.max_time=00:00:01:00", "model=tiny"]),
    ("train", ["experiment=smoke", "+module.optimizer.weight_decay=0.01", "logger=csv"]),
    ("train", ["experiment=smoke", "callbacks.demo_sampling=null", "debug=fast"]),
    (
        "train",
        [
            "experiment=smoke",
            "sampler@callbacks.demo_sampling.sampler=ddim",
            "callbacks.demo_sampling.sampler.num_steps=10",
            "extender@callbacks.history_panel.extender=repaint",
            "callbacks.history_panel.extender.n_resample=3",
        ],
    ),
    ("evaluate", ["extenders=[replacement,repaint]", "+extender_params.repaint.n_resample=3"]),
    ("evaluate", ["extenders=repaint", "samplers=[ddim]", "+sampler_params.ddim.num_steps=4"]),
    ("generate", ["wandb={enabled:false,mode:offline}"]),  # a mapping of keys it has
]


@pytest.mark.parametrize("entry,args", ACCEPTED)
def test_valid_command_lines_pass(entry, args):
    check_command_line(importlib.import_module(f"pianodiff.{entry}").ENTRYPOINT, args)


OWN_GROUPS = {
    "train": {"paths", "data", "model", "diffusion", "trainer", "logger", "callbacks",
              "experiment", "debug"},
    "generate": {"sampler", "extender", "geometry", "plugins", "preset"},
    "evaluate": set(),
}  # fmt: skip


@pytest.mark.parametrize("entry", ["train", "generate", "evaluate"])
def test_help_lists_its_own_groups_and_options_one_line_each(entry, tmp_path, monkeypatch, capsys):
    code, _, out = _run(entry, ["--help"], tmp_path, monkeypatch, capsys)
    assert code == 0 and out.startswith(f"python -m pianodiff.{entry} ")
    lines = out.splitlines()
    assert set(own_groups(entry)) == OWN_GROUPS[entry]
    every_group = {p.name for p in CONF_DIR.iterdir() if p.is_dir() and any(p.glob("*.yaml"))}
    group_lines = {
        ln.split()[0]: ln for ln in lines if ln[:2] == "  " and ln.split()[0] in every_group
    }
    assert set(group_lines) == OWN_GROUPS[entry]  # nobody else's groups
    for group, line in group_lines.items():
        default = OmegaConf.load(CONF_DIR / f"{entry}.yaml")  # the option marked with *
        assert all(
            name in line for name in sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
        )
        items = OmegaConf.to_container(default.defaults)
        chosen = [d[group] for d in items if isinstance(d, dict) and group in d]
        assert chosen[0] is None or f"{chosen[0]}*" in line
    # Every option of the primary config: one line, with a description and its default.
    raw = OmegaConf.to_container(OmegaConf.load(CONF_DIR / f"{entry}.yaml"))
    options = [k for k, _ in leaves(raw)
               if k.split(".")[0] not in ("defaults", "hydra")]  # fmt: skip
    assert options
    for key in options:
        (line,) = [ln for ln in lines if ln.startswith(f"  {key} ")]
        description = line[len(key) + 2 :].rsplit("[", 1)[0].strip()
        assert description, f"{key} has no description in conf/{entry}.yaml"


def test_the_checker_uses_only_public_hydra_and_omegaconf():
    """Nothing in src/ imports Hydra's internals; the command-line room reads configs as
    plain containers, never through OmegaConf's private node accessors."""
    package = CONF_DIR.parent
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.startswith("hydra._internal") for n in names), path
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert "hydra._internal" not in node.value, path
    for path in sorted((package / "cli").glob("*.py")):
        text = path.read_text()
        assert "_get_node" not in text and "._value" not in text, path
