"""Sizes checked before a network or schedule from a file is built, so nothing is allocated
for a config that asks for too much (``residual_channels: 100000000``, ``num_steps: 1e9``).

* A schedule's ``num_steps`` (anywhere in a model or diffusion section: a preconditioned
  network holds the training schedule too) must be a whole number from 1 to
  ``MAX_SCHEDULE_STEPS``; a schedule holds a few float64 tensors of that length.
* A network is first built on PyTorch's ``meta`` device, which records shapes and allocates
  nothing, while a registration hook counts its parameters and buffers and stops the build
  as soon as they pass ``MAX_PARAMETERS`` values or ``MAX_TENSORS`` tensors (so a config
  with a million layers stops after a few thousand).

Each check returns the one-line problem, naming the key, or None.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from hydra.utils import instantiate
from torch.nn.modules.module import (
    register_module_buffer_registration_hook,
    register_module_parameter_registration_hook,
)

MAX_SCHEDULE_STEPS = 100_000  # the shipped schedules have 50 to 1000 steps
MAX_PARAMETERS = 1 << 28  # 268 M values, 1 GiB of float32 weights (the largest shipped: 24 M)
MAX_TENSORS = 2048  # parameters and buffers (model=large, 36 layers, has 227)


class _TooLarge(Exception):
    """Raised from the registration hook to stop a meta build early."""


def schedule_steps_problem(node: Any, section: str) -> str | None:
    """The problem with the first ``num_steps`` in ``node`` (plain dicts and lists) that is
    not a whole number from 1 to ``MAX_SCHEDULE_STEPS``, or None."""
    for path, value in _entries(node, section, "num_steps"):
        whole = isinstance(value, int) and not isinstance(value, bool)
        if not whole or not 1 <= value <= MAX_SCHEDULE_STEPS:
            return f"{path} = {value!r} is not a number of steps from 1 to {MAX_SCHEDULE_STEPS:,}"
    return None


def network_size_problem(model: dict, section: str, schedules: frozenset[str]) -> str | None:
    """The problem with a checked, plain model section whose networks would hold more than
    ``MAX_PARAMETERS`` values or ``MAX_TENSORS`` tensors, or None. Each innermost node with a
    ``_target_`` outside ``schedules`` (the network, not a preconditioning wrapper) is built
    on the meta device; nothing is allocated."""
    values, tensors, too_large = 0, 0, False

    def count(module: torch.nn.Module, name: str, tensor: torch.Tensor | None) -> None:
        nonlocal values, tensors, too_large
        if tensor is not None:
            values += tensor.numel()
            tensors += 1
        if values > MAX_PARAMETERS or tensors > MAX_TENSORS:
            too_large = True
            raise _TooLarge  # Hydra wraps it: the flag says why the build stopped

    hooks = [
        register_module_parameter_registration_hook(count),
        register_module_buffer_registration_hook(count),
    ]
    try:
        for _, node in _innermost_targets(model, section, schedules):
            with torch.device("meta"):
                instantiate(node)
    except Exception:  # not a size problem unless the hook stopped it: the build reports it
        pass
    finally:
        for hook in hooks:
            hook.remove()
    if not too_large:
        return None
    key, value = _largest_setting(model, section)
    return (
        f"{key} = {value!r} makes a network of more than {MAX_PARAMETERS:,} weights "
        f"(or {MAX_TENSORS:,} tensors), counted before building it"
    )


def _entries(node: Any, path: str, key: str) -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every ``key`` in nested plain dicts and lists."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield f"{path}.{k}", v
            else:
                yield from _entries(v, f"{path}.{k}", key)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _entries(v, f"{path}[{i}]", key)


def _innermost_targets(node: Any, path: str, skip: frozenset[str]) -> Iterator[tuple[str, dict]]:
    """(path, node) of every node with a ``_target_`` (not in ``skip``) that holds no
    further ``_target_`` node: the networks a wrapper config nests."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _innermost_targets(item, f"{path}[{i}]", skip)
        return
    if not isinstance(node, dict):
        return
    children = list(_target_children(node))
    if "_target_" in node and not children:
        if node["_target_"] not in skip:
            yield path, node
        return
    for key, child in children:
        yield from _innermost_targets(child, f"{path}.{key}", skip)


def _target_children(node: dict) -> Iterator[tuple[str, Any]]:
    for key, value in node.items():
        if _holds_target(value):
            yield key, value


def _holds_target(node: Any) -> bool:
    if isinstance(node, dict):
        return "_target_" in node or any(_holds_target(v) for v in node.values())
    if isinstance(node, list):
        return any(_holds_target(v) for v in node)
    return False


def _largest_setting(node: Any, path: str) -> tuple[str, Any]:
    """The whole-number setting with the largest value (the likeliest culprit)."""
    best: tuple[str, Any] = (path, None)
    if isinstance(node, dict):
        items = [(f"{path}.{k}", v) for k, v in node.items()]
    elif isinstance(node, list):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(node)]
    else:
        return best
    for key, value in items:
        found = (
            (key, value)
            if isinstance(value, int) and not isinstance(value, bool)
            else _largest_setting(value, key)
        )
        if found[1] is not None and (best[1] is None or found[1] > best[1]):
            best = found
    return best
