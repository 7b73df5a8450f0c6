"""Strict overrides: every ``key=value`` and ``group=option`` must name something real.

Hydra accepts ``+anything=value`` silently and reports a misspelt group choice in a dozen
lines. Here each override of a command line is checked against the entrypoint's own
config, composed with the command line's group choices (so an experiment's or a chosen
extender's keys count), before Hydra runs:

* ``group=option`` (also swept ``a,b`` and ``glob(...)``): the group must be one of this
  entrypoint's and the option a file of ``conf/<group>/``;
* ``key=value``, ``+key=value``, ``++key=value``, ``~key``: the key must exist, or lie
  directly under a node with a ``_target_`` whose callable takes it as an argument (so
  ``+trainer.max_time=00:01:00:00`` is fine: ``lightning.Trainer`` takes ``max_time``);
  ``+`` on a key that exists and a plain override of a key that does not yet exist are
  refused with the spelling that works;
* ``key={a: {b: 1}}`` that would add keys to ``key`` is refused with the ``+key.a.b=1``
  spelling Hydra accepts (it cannot merge new keys into a node of the config);
* options that hold group option names (evaluate's ``extenders=[...]``) and options keyed
  by them (``+extender_params.repaint.n_resample=3``) are checked like group choices;
* ``hydra.*`` and ``hydra/...`` overrides are Hydra's own and left to it.

Only Hydra's and OmegaConf's public API is used: the command line is split with
:func:`argv_parser` (Hydra's flags), overrides are parsed by Hydra's override parser, and
the composed config is walked as plain containers (``OmegaConf.to_container``, unresolved).
Every refusal is a :class:`~pianodiff.cli.ConfigError` of one line naming the nearest
valid keys or the available choices.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import inspect
import io
import re
from functools import cache
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, ValueType
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from pianodiff.cli import ConfigError, Entrypoint, PreflightError
from pianodiff.conf import compose, group_choices, load_group, primary_defaults

# Hydra flags after which the config is not ours to check (another config, Hydra's help).
UNCHECKED_FLAGS = (
    "config_path", "config_name", "config_dir", "hydra_help", "info", "shell_completion",
    "experimental_rerun",
)  # fmt: skip
MAX_LISTED = 12  # keys listed when none is close to the misspelt one
ENTRYPOINT_CONFIGS = ("train", "generate", "evaluate")  # python -m pianodiff.<name>
# Hydra's flags: switches, and flags with a value (--info's is optional).
HYDRA_SWITCHES = (
    ("--help", "-h"), ("--hydra-help",), ("--version",), ("--resolve",), ("--run", "-r"),
    ("--multirun", "-m"), ("--shell-completion", "-sc"),
)  # fmt: skip
HYDRA_VALUED_FLAGS = (
    ("--cfg", "-c"), ("--package", "-p"), ("--config-path", "-cp"), ("--config-name", "-cn"),
    ("--config-dir", "-cd"), ("--experimental-rerun",),
)  # fmt: skip
PLAIN_VALUE = re.compile(r"[\w.:/@-]+")  # a command-line value that needs no quotes


def argv_parser() -> argparse.ArgumentParser:
    """The flags a ``@hydra.main`` app takes, as Hydra documents them, with the overrides
    as positional arguments; parsing a command line with it separates the two."""
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    for flags in HYDRA_SWITCHES:
        parser.add_argument(*flags, action="store_true")
    for flags in HYDRA_VALUED_FLAGS:
        parser.add_argument(*flags)
    parser.add_argument("--info", "-i", nargs="?", const="all")
    parser.add_argument("overrides", nargs="*")
    return parser


def check_command_line(entry: Entrypoint, argv: list[str]) -> None:
    """Check ``argv`` (without the program name) as :mod:`pianodiff.cli.strict` describes,
    then run the entrypoint's preflight on the composed config."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # Hydra says it once, itself
            args, unknown = argv_parser().parse_known_args(argv)
    except (argparse.ArgumentError, SystemExit):  # e.g. a flag without its value
        return
    if unknown or any(getattr(args, flag, None) for flag in UNCHECKED_FLAGS):
        return  # a flag Hydra does not know (Hydra says so), or a config not ours to check
    overrides = check_overrides(entry, list(args.overrides))
    if entry.preflight is not None and not any(o.is_sweep_override() for o in overrides):
        cfg = compose(entry.config_name, [o.input_line for o in overrides])
        try:
            entry.preflight(cfg)
        except ConfigError as err:
            raise PreflightError(str(err)) from None


def check_overrides(entry: Entrypoint, lines: list[str]) -> list[Override]:
    """Refuse the first override that names nothing of ``entry``; returns the parsed
    overrides that are not Hydra's own."""
    overrides = [o for o in parse(lines) if not _is_hydra_own(o)]
    groups = own_groups(entry.config_name)
    choices = [o for o in overrides if o.key_or_group in groups and o.package is None]
    placed = [o for o in overrides if o.package is not None]
    for o in choices + placed:
        _check_choice(o)
    variants = _variants(choices)
    placed_lines = [o.input_line for o in placed]
    references = [_plain(compose(entry.config_name, [*lines, *placed_lines])) for lines in variants]
    for o in placed:
        _check_placement(o, references)
    for o in overrides:
        if o in choices or o in placed:
            continue
        # Every job of a sweep composes each override, so it must fit every swept option.
        for lines, ref in zip(variants, references):
            problem = _check_key(entry, ref, o) or _check_new_keys(entry, ref, o)
            if problem:
                raise ConfigError(
                    problem + (f" (with {' '.join(lines)})" if len(variants) > 1 else "")
                )
        _check_names(entry, o)
    return overrides


def parse(lines: list[str]) -> list[Override]:
    """Hydra's own parse of override strings; a syntax error is one line."""
    try:
        return OverridesParser.create().parse_overrides(lines)
    except HydraException as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"cannot parse the override(s) {' '.join(lines)}: {first}") from None


@cache
def own_groups(config_name: str) -> tuple[str, ...]:
    """The config groups in the defaults list of ``conf/<config_name>.yaml``."""
    return tuple(primary_defaults(config_name))


def _plain(cfg: DictConfig) -> dict[str, Any]:
    """A composed config as plain dicts and lists, interpolations and ``???`` as written."""
    return OmegaConf.to_container(cfg, resolve=False)  # type: ignore[return-value]


# -- group choices --------------------------------------------------------------------------


def _is_hydra_own(o: Override) -> bool:
    key = o.key_or_group
    return key == "hydra" or key.startswith(("hydra.", "hydra/"))


def _values(o: Override, choices: list[str]) -> list[Any]:
    """The option names an override selects (each of a sweep)."""
    if o.value_type == ValueType.GLOB_CHOICE_SWEEP:
        return list(o.value().filter(choices))
    if o.is_sweep_override():
        return list(o.sweep_string_iterator())
    return [o.value()]


def _unknown_choice(group: str, value: Any, choices: list[str], where: str = "") -> ConfigError:
    close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return ConfigError(
        f"unknown {group} {str(value)!r}{where}{hint}; choose one of: {', '.join(choices)}"
    )


def _check_choice(o: Override) -> None:
    if o.is_delete():
        return
    group = o.key_or_group
    choices = group_choices(group)
    values = _values(o, choices)
    if not values:
        raise ConfigError(f"{o.input_line} selects no {group}; choose from: {', '.join(choices)}")
    for value in values:
        if value is None:  # group=null drops an optional group (experiment=null)
            continue
        if not isinstance(value, str) or value not in choices:
            raise _unknown_choice(group, value, choices)


def _check_placement(o: Override, references: list[dict[str, Any]]) -> None:
    """``group@package=option`` (e.g. ``sampler@callbacks.demo_sampling.sampler=ddim``): the
    group's option is checked like any choice; the package must be a node the config
    composes, which a defaults list placed there."""
    if any(_select(ref, o.package) is None for ref in references):
        raise ConfigError(f"'{o.input_line}': this config composes nothing at {o.package}")


def _select(node: Any, dotted: str) -> Any:
    """The value at a dotted key of plain containers, or None."""
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _variants(choices: list[Override]) -> list[list[str]]:
    """Group-choice override lines for each reference composition: one per position of the
    longest sweep (so every swept option's keys are known), at least one."""
    picks = []
    for o in choices:
        if o.is_delete():
            picks.append([o.input_line])
            continue
        key = ("+" if o.is_add() else "++" if o.is_force_add() else "") + o.key_or_group
        values = _values(o, group_choices(o.key_or_group))
        picks.append([f"{key}={'null' if v is None else v}" for v in values] or [])
    n = max([1, *(len(p) for p in picks)])
    return [[p[min(i, len(p) - 1)] for p in picks] for i in range(n)]


def _check_names(entry: Entrypoint, o: Override) -> None:
    """``extenders=[repaint, ...]``: each name must be an option of its group."""
    group = entry.name_lists.get(o.key_or_group)
    if group is None or o.is_delete():
        return
    choices = group_choices(group)
    values = o.sweep_iterator() if o.is_sweep_override() else [o.value()]
    for value in values:
        names = [value] if isinstance(value, str) else list(value or [])
        for name in names:
            if name not in choices:
                raise _unknown_choice(group, name, choices, f" in {o.key_or_group}")


# -- keys ----------------------------------------------------------------------------------


def _mode(o: Override) -> str:
    if o.is_add():
        return "add"
    if o.is_force_add():
        return "force"
    return "delete" if o.is_delete() else "change"


def _keys(node: dict[str, Any]) -> list[str]:
    """A node's keys, missing values (???) included, Hydra's ``_x_`` keys left out."""
    return [str(k) for k in node if not _is_special(str(k))]


def _is_special(key: str) -> bool:
    return key.startswith("_") and key.endswith("_")


def _check_key(entry: Entrypoint, cfg: dict[str, Any], o: Override) -> str | None:
    """None when ``o`` names a key of ``cfg`` (plain containers) that it may set; else the
    one-line problem."""
    key, mode = o.key_or_group, _mode(o)
    parts = key.split(".")
    node: Any = cfg
    for i, part in enumerate(parts):
        where = ".".join(parts[:i])
        if isinstance(node, list):
            if part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
                node = node[int(part)]
                continue
            return f"{where} is a list of {len(node)}; '{part}' is not an index of it"
        if not isinstance(node, dict):
            return f"{where} is a single value, it has no key '{part}'; set it as {where}=..."
        if part in node:
            if i == len(parts) - 1:
                if mode == "add":
                    return f"{key} is already in the config; drop the '+': {o.input_line[1:]}"
                return None
            node = node[part]
            continue
        if i == 1 and parts[0] in entry.name_maps:
            return _check_name_map(entry, parts, mode, o)
        target = node.get("_target_")
        if isinstance(target, str) and _accepts(target, part):
            if mode == "change":
                return f"{key} is not in the config yet; add it with +{o.input_line}"
            if mode == "delete":
                return f"{key} is not in the config; there is nothing to delete"
            return None
        return _unknown_key(entry, key, parts[:i], part, node, target)
    return None


def _check_new_keys(entry: Entrypoint, cfg: dict[str, Any], o: Override) -> str | None:
    """``key={a: {b: 1}}`` on an existing ``key``: Hydra merges the mapping into the node
    and refuses keys the node does not have. None when every key exists; else the problem
    with a key (as ``+key.a.b=1`` would be checked) or the ``+`` spelling that works."""
    if _mode(o) != "change" or o.value_type != ValueType.ELEMENT:
        return None
    value = o.value()
    current = _select(cfg, o.key_or_group)
    if not isinstance(value, dict) or not isinstance(current, dict):
        return None
    leaves = list(_leaf_overrides(o.key_or_group, value, current))
    new = [line for line in leaves if line.startswith("+")]
    if not new:
        return None
    for line in new:  # a misspelt key or option is named as for the + spelling
        (added,) = parse([line])
        problem = _check_key(entry, cfg, added)
        if problem:
            return f"in {o.input_line}: {problem}"
    return (
        f"{o.input_line} adds keys that {o.key_or_group} does not have, which Hydra cannot "
        f"merge; write them one by one: {' '.join(leaves)}"
    )


def _leaf_overrides(prefix: str, value: dict[str, Any], current: Any) -> list[str]:
    """``prefix.a.b=v`` for every leaf of ``value``; ``+`` where ``current`` lacks the key."""
    lines = []
    for key, item in value.items():
        have = current.get(str(key)) if isinstance(current, dict) else None
        exists = isinstance(current, dict) and str(key) in current
        dotted = f"{prefix}.{key}"
        if isinstance(item, dict) and item and (not exists or isinstance(have, dict)):
            lines += _leaf_overrides(dotted, item, have if exists else None)
        else:
            lines.append(f"{'' if exists else '+'}{dotted}={_typed(item)}")
    return lines


def _typed(value: Any) -> str:
    """A value as one would type it on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(_typed(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_typed(v)}" for k, v in value.items()) + "}"
    text = str(value)
    return text if isinstance(value, int | float) or PLAIN_VALUE.fullmatch(text) else repr(text)


def _check_name_map(entry: Entrypoint, parts: list[str], mode: str, o: Override) -> str | None:
    """``extender_params.<extender>.<setting>``: a real option and one of its settings."""
    option, name = parts[0], parts[1]
    group = entry.name_maps[option]
    choices = group_choices(group)
    if name not in choices:
        return str(_unknown_choice(group, name, choices, f" in {option}"))
    if mode in ("change", "delete"):
        return f"{o.key_or_group} is not in the config yet; add it with +{o.input_line}"
    if len(parts) > 2:
        settings = _plain(load_group(group, name))
        target = settings.get("_target_")
        if parts[2] not in settings and not (
            isinstance(target, str) and _accepts(target, parts[2])
        ):
            valid = _keys(settings) + _parameters(target)
            return _unknown_key(entry, o.key_or_group, parts[:2], parts[2], None, None, valid)
    return None


def _unknown_key(
    entry: Entrypoint,
    key: str,
    path: list[str],
    part: str,
    node: dict[str, Any] | None,
    target: Any,
    valid: list[str] | None = None,
) -> str:
    """One line: the unknown key, where it belongs if elsewhere, the nearest valid keys."""
    if valid is None:
        valid = _keys(node) if node is not None else []
        valid += [p for p in _parameters(target) if p not in valid]
    full = [".".join([*path, k]) for k in sorted(set(valid))]
    close = difflib.get_close_matches(".".join([*path, part]), full, n=3, cutoff=0.6)
    if close:
        hint = f"nearest valid keys: {', '.join(close)}"
    elif full:
        more = ", ..." if len(full) > MAX_LISTED else ""
        hint = f"valid keys here: {', '.join(full[:MAX_LISTED])}{more}"
    else:
        hint = f"{'.'.join(path)} takes no further keys"
    elsewhere = ""
    if not path:
        owners = [e for e in ENTRYPOINT_CONFIGS if e != entry.name and part in own_groups(e)]
        if owners:
            elsewhere = f" ({part}= is an option of python -m pianodiff.{owners[0]})"
    return f"unknown key '{key}' for {entry.name}{elsewhere}; {hint} (--help lists them)"


# -- what a _target_ accepts ------------------------------------------------------------------


def _locate(dotted: str) -> Any:
    """The object a ``_target_`` names: the longest importable module prefix, then
    attributes (a config of the shipped YAML: trusted)."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:n]))
        except ImportError:
            continue
        for attr in parts[n:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


@cache
def _signature_of(target: str) -> tuple[tuple[str, ...], bool]:
    """(named parameters, takes any keyword) of the callable ``target`` names.

    A callable with ``**kwargs`` (e.g. a logger forwarding to a library) takes anything, as
    does a target that cannot be imported or inspected: its instantiation will report the
    real problem.
    """
    try:
        params = list(inspect.signature(_locate(target)).parameters.values())
    except Exception:
        return (), True
    names = tuple(p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
    return names, any(p.kind == p.VAR_KEYWORD for p in params)


def _accepts(target: str, parameter: str) -> bool:
    """Whether the callable ``target`` takes ``parameter`` (Hydra's ``_x_`` keys always)."""
    if _is_special(parameter):
        return True
    names, anything = _signature_of(target)
    return anything or parameter in names


def _parameters(target: Any) -> list[str]:
    return list(_signature_of(target)[0]) if isinstance(target, str) else []
