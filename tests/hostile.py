"""Hostile files for the safety tests: pickles and export configs that run code if loaded.

Every builder returns the file (or folder) plus the path its payload would create or
empty, so a test can assert that the payload never ran. ``RESOURCE_KINDS`` run no code:
they would exhaust time or memory, and must be refused before anything is expanded or
allocated. ``test_hostile_files_are_real``
(in ``test_hostile_loading.py``) loads each one the unsafe way and sees the payload run,
so a passing safety test means the loader refused it, not that the file was harmless.
"""

from __future__ import annotations

import builtins
import pickle
from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file

from pianodiff.nets import DiffWave

TINY = {"_target_": "pianodiff.nets.DiffWave", "residual_layers": 2, "residual_channels": 8,
        "dilation_cycle": 2}  # fmt: skip
SCHEDULE = {"_target_": "pianodiff.diffusion.schedule.linear_schedule", "num_steps": 8,
            "beta_start": 1e-4, "beta_end": 0.25}  # fmt: skip


class Payload:
    """Unpickling this calls ``open(marker, "w")``: the file appears (any call would do)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


# -- pickles ------------------------------------------------------------------------------

PICKLE_KINDS = ("zip", "legacy", "raw_pickle")


def evil_checkpoint(path: Path, marker: Path, kind: str, base: dict | None = None) -> Path:
    """A ``.ckpt`` that creates ``marker`` when unpickled without ``weights_only``.

    ``base`` (a real training checkpoint's dict) makes it otherwise valid: only the extra
    entry is hostile. kind: "zip" (torch.save), "legacy" (pre-1.6 format), "raw_pickle".
    """
    content = dict(base or {"state_dict": {}, "pianodiff": {}})
    content["note"] = Payload(marker)
    if kind == "zip":
        torch.save(content, path)
    elif kind == "legacy":
        torch.save(content, path, _use_new_zipfile_serialization=False)
    elif kind == "raw_pickle":
        path.write_bytes(pickle.dumps(content))
    else:
        raise ValueError(kind)
    return path


def bomb_checkpoint(path: Path, base: dict | None = None) -> Path:
    """A weights-only-loadable ``.ckpt`` whose config holds a list shared 9 times at each of
    10 levels: 2 kB on disk, 9**10 values to anything that copies it (pickle's memo plays
    the part of YAML aliases)."""
    shared: list = ["lol"] * 9
    for _ in range(9):
        shared = [shared] * 9
    content = dict(base or {"state_dict": {"ema.net.w": torch.zeros(1)}, "global_step": 1})
    config = {"diffusion": SCHEDULE, **(content.get("pianodiff") or {})}
    config["model"] = {**(config.get("model") or TINY), "notes": shared}
    content["pianodiff"] = config
    torch.save(content, path)
    return path


# -- export folders -----------------------------------------------------------------------

# Configs that run no code but would take the process down if read or built naively: an
# alias bomb (ten lines, 9**10 values once expanded), nesting past any sane depth, and a
# network or schedule too large to allocate.
RESOURCE_KINDS = ("alias_bomb", "deep_nesting", "huge_channels", "huge_layers", "huge_steps")

CONFIG_KINDS = (
    "torch_load",
    "open_write",
    "nested_net",
    "diffusion_target",
    "import_side_effect",
    "lookalike_path",
    "args_on_allowed",
    "partial_on_allowed",
    "target_in_list",
    "non_string_target",
    "yaml_python_tag",
    *RESOURCE_KINDS,
)


def evil_export(folder: Path, kind: str, marker: Path, victim: Path) -> Path:
    """An export folder with valid tiny weights whose ``config.yaml`` runs code if built.

    Its payload creates ``marker`` or empties ``victim`` (a file the caller wrote).
    ``import_side_effect`` also writes ``<folder>/evilmod.py`` (import it: marker appears);
    put ``folder`` on ``sys.path`` to make that case live.
    """
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    net = DiffWave(2, 8, 2)
    save_file(
        {k: v.contiguous() for k, v in net.state_dict().items()}, folder / "model.safetensors"
    )
    payload = folder / "payload.pt"
    torch.save(Payload(marker), payload)
    model: object = dict(TINY)
    diffusion: object = dict(SCHEDULE)
    if kind == "torch_load":
        model = {"_target_": "torch.load", "_args_": [str(payload)], "weights_only": False}
    elif kind == "open_write":
        model = {"_target_": "builtins.open", "_args_": [str(victim), "w"]}
    elif kind == "nested_net":
        model = {"_target_": "pianodiff.diffusion.preconditioning.PreconditionedEps",
                 "data_std": 0.1, "schedule": SCHEDULE,
                 "net": {"_target_": "builtins.open", "_args_": [str(victim), "w"]}}  # fmt: skip
    elif kind == "diffusion_target":
        diffusion = {"_target_": "builtins.open", "_args_": [str(victim), "w"]}
    elif kind == "import_side_effect":
        (folder / "evilmod.py").write_text(
            f"open({str(marker)!r}, 'w').close()\nfrom pianodiff.nets import DiffWave as Net\n"
        )
        model = {**TINY, "_target_": "evilmod.Net"}
    elif kind == "lookalike_path":  # resolves to torch.load by attribute walk
        model = {"_target_": "pianodiff.nets.diffwave.torch.load", "_args_": [str(payload)],
                 "weights_only": False}  # fmt: skip
    elif kind == "args_on_allowed":
        model = {**TINY, "_args_": [2, 8, 2]}
    elif kind == "partial_on_allowed":
        model = {**TINY, "_partial_": True}
    elif kind == "target_in_list":
        model = {**TINY, "step_embed_dim": [{"_target_": "builtins.open",
                                              "_args_": [str(victim), "w"]}]}  # fmt: skip
    elif kind == "non_string_target":
        model = {**TINY, "_target_": ["builtins.open", str(victim), "w"]}
    elif kind in RESOURCE_KINDS:
        (folder / "config.yaml").write_text(resource_config(kind))
        return folder
    elif kind == "yaml_python_tag":
        text = yaml.safe_dump({"diffusion": SCHEDULE, "meta": {"sample_rate": 22050}})
        text += f"model: !!python/object/apply:builtins.open [{str(victim)!r}, w]\n"
        (folder / "config.yaml").write_text(text)
        return folder
    else:
        raise ValueError(kind)
    config = {"model": model, "diffusion": diffusion, "meta": {"sample_rate": 22050}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return folder


def alias_bomb(levels: int = 10, width: int = 9) -> str:
    """YAML whose ``model`` expands to ``width ** levels`` strings (a "billion laughs")."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join([*lines, f"model: *a{levels - 1}", ""])


def resource_config(kind: str) -> str:
    """The ``config.yaml`` text of a ``RESOURCE_KINDS`` export (written as a person would)."""
    rest = yaml.safe_dump({"diffusion": SCHEDULE, "meta": {"sample_rate": 22050}})
    if kind == "alias_bomb":
        return alias_bomb() + rest
    if kind == "deep_nesting":
        return "model: " + "[" * 5000 + "]" * 5000 + "\n" + rest
    if kind == "huge_steps":
        return yaml.safe_dump({"model": TINY, "meta": {"sample_rate": 22050}}) + (
            "diffusion: {_target_: pianodiff.diffusion.schedule.linear_schedule, num_steps: 1e9}\n"
        )
    key, value = {"huge_channels": ("residual_channels", 100_000_000),
                  "huge_layers": ("residual_layers", 1_000_000_000)}[kind]  # fmt: skip
    return yaml.safe_dump({"model": {**TINY, key: value}}) + rest


def victim_file(path: Path) -> Path:
    """A file a payload would empty; tests assert its content survives."""
    path.write_text("precious\n")
    return path


CODE_KINDS = tuple(
    k
    for k in CONFIG_KINDS
    if k not in ("args_on_allowed", "partial_on_allowed", "non_string_target", *RESOURCE_KINDS)
)
"""The config kinds whose payload really runs when built (the others are only refused)."""


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for folders): compare before/after."""
    return {
        p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


def one_line(stderr: str) -> str:
    """The single line a refused request prints; fails if there are more."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {lines}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]
