"""``--help`` of an entrypoint: its own config groups and options, one line each.

Written from the shipped YAML, so it cannot drift from the code: the groups are those of
the primary config's defaults list (with the comment on that line), their options the
files of each group folder, and the options the primary config's own keys with the
comment on their line. Hydra's own help would list every group of the shared config
folder, training's beside generation's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from pianodiff.cli import Entrypoint
from pianodiff.cli.strict import own_groups
from pianodiff.conf import CONF_DIR, group_choices, load_group, primary_defaults

KEY_LINE = re.compile(r"^(?P<indent>\s*)(?P<dash>-\s+)?(?P<key>[\w/ ]+?):(?P<rest>.*)$")
WIDTH = 18  # narrowest column of the option descriptions


def yaml_comments(path: str | Path) -> dict[str, str]:
    """{"dotted.key": "comment on its line"} for a YAML file; defaults-list entries appear
    as "defaults.<group>". A simple line reader: enough for the project's own configs."""
    comments: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in Path(path).read_text().splitlines():
        match = KEY_LINE.match(line)
        if not match or line.lstrip().startswith("#"):
            continue
        indent = len(match["indent"])
        key = match["key"].replace("override ", "").strip("/ ")
        if match["dash"]:  # a defaults-list entry: "- group: option  # comment"
            name = f"defaults.{key}"
        else:
            while stack and stack[-1][0] >= indent:
                stack.pop()
            name = ".".join([*(k for _, k in stack), key])
            stack.append((indent, key))
        rest = match["rest"]
        if " #" in rest or rest.startswith("#"):
            comments[name] = rest.split("#", 1)[1].strip()
    return comments


def leaves(node: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, default as written) of every leaf option of a config read as plain
    containers (``OmegaConf.to_container(..., resolve=False)``), Hydra's ``_x_`` keys left
    out; an empty mapping or a list is one option."""
    out = []
    for key, child in node.items():
        key = str(key)
        if key.startswith("_") and key.endswith("_"):
            continue
        name = f"{prefix}{key}"
        if isinstance(child, dict) and child:
            out += leaves(child, f"{name}.")
        else:
            out.append((name, _flow(child)))
    return out


def _flow(value: object) -> str:
    """A default as one would type it on the command line (YAML flow style)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return str(value)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def help_text(entry: Entrypoint) -> str:
    """The help of ``entry``: usage, groups and options (one line each), Hydra's flags."""
    primary = CONF_DIR / f"{entry.config_name}.yaml"
    comments = yaml_comments(primary)
    raw = OmegaConf.to_container(OmegaConf.load(primary), resolve=False)
    assert isinstance(raw, dict)
    lines = [
        f"python -m pianodiff.{entry.name} [group=option ...] [key=value ...]",
        "",
        entry.summary,
    ]
    if entry.examples:
        lines += ["", "Examples:", *(f"  {e}" for e in entry.examples)]
    defaults = primary_defaults(entry.config_name)
    groups = own_groups(entry.config_name)
    if groups:
        lines += ["", "Config groups (group=option; * marks the default):"]
        rows = []
        for group in groups:
            chosen = defaults.get(group)
            options = ", ".join(f"{c}*" if c == chosen else c for c in group_choices(group))
            rows.append((group, options, comments.get(f"defaults.{group}", "")))
        g_width = max(len(g) for g, _, _ in rows) + 2
        o_width = max(len(o) for _, o, _ in rows) + 2
        for group, options, note in rows:
            lines.append(f"  {group:<{g_width}}{options:<{o_width}}{note}".rstrip())
        lines.append(
            "  A group's own settings are group.key=value (e.g. "
            f"{_example_setting(groups)}); --cfg job prints the composed config."
        )
    lines += ["", "Options (key=value; the default in brackets):"]
    options = [(k, d) for k, d in leaves(raw) if k.split(".")[0] not in ("defaults", "hydra")]
    width = max([WIDTH, *(len(k) + 2 for k, _ in options)])
    for key, default in options:
        note = comments.get(key, "")
        lines.append(f"  {key:<{width}}{note} [{_short(default)}]")
    lines += [
        "",
        "Hydra flags: -m/--multirun sweeps comma lists (extender=a,b), --cfg job prints the "
        "config, --hydra-help Hydra's own help.",
    ]
    return "\n".join(lines)


def _example_setting(groups: tuple[str, ...]) -> str:
    """A real group setting for the help's example line (the first group with a key)."""
    for group in groups:
        for name in group_choices(group):
            keys = [str(k) for k in load_group(group, name) if not str(k).startswith("_")]
            if keys:
                return f"{group}.{keys[0]}=..."
    return "group.key=..."
