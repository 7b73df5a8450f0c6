"""The one config root: the Hydra configs shipped as package data, and one compose function.

Every entrypoint (``@hydra.main(config_path=CONF_DIR, ...)``), the command-line checker, the
Python API and the tests find the YAML here and nowhere else, so a source checkout and an
installed wheel behave the same.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pianodiff.core.errors import UserError

# An absolute path: Hydra resolves a relative ``config_path`` against the calling module,
# which differs between ``python -m``, a console script and an in-process call.
CONF_DIR = Path(__file__).resolve().parent


class ConfigError(UserError):
    """A config that cannot be composed or a group option that does not exist (one line)."""


def group_choices(group: str) -> list[str]:
    """The option names of a config group, e.g. ``group_choices("extender")``."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def load_group(group: str, name: str) -> DictConfig:
    """``conf/<group>/<name>.yaml`` as written (no Hydra defaults processing); an unknown
    name is one line listing the choices."""
    path = CONF_DIR / group / f"{name}.yaml"
    if not path.is_file():
        choices = ", ".join(group_choices(group))
        raise ConfigError(f"unknown {group} '{name}'; choose one of: {choices}")
    cfg = OmegaConf.load(path)
    assert isinstance(cfg, DictConfig)
    return cfg


def primary_defaults(config_name: str) -> dict[str, str]:
    """The group choices that ``conf/<config_name>.yaml``'s defaults list makes,
    e.g. ``primary_defaults("generate")["sampler"]``."""
    raw = OmegaConf.load(CONF_DIR / f"{config_name}.yaml")
    picks: dict[str, str] = {}
    for entry in OmegaConf.to_container(raw).get("defaults") or []:  # type: ignore[union-attr]
        if isinstance(entry, dict):
            for key, value in entry.items():
                picks[str(key).replace("override ", "").strip("/ ")] = str(value)
    return picks


def one_line(err: BaseException) -> str:
    """Hydra's message in one line: its first line, and the choices it lists, if any."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    for i, line in enumerate(lines):
        if line.startswith("Available options"):
            return f"{lines[0]}; choose one of: {', '.join(lines[i + 1 :])}"
    return lines[0]


def compose(config_name: str, overrides: list[str] | None = None) -> DictConfig:
    """``conf/<config_name>.yaml`` composed with ``overrides`` as the command line would,
    through Hydra's public compose API; any Hydra state of the caller is left as it was.
    A config Hydra cannot compose raises :class:`ConfigError` with Hydra's first line."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    import pianodiff.core.resolvers  # noqa: F401  (registers ${pd.*} before composing)

    hydra = GlobalHydra.instance()
    saved = hydra.hydra if hydra.is_initialized() else None
    hydra.clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return hydra_compose(config_name, overrides=list(overrides or []))
    except HydraException as err:
        raise ConfigError(f"{one_line(err)} (python -m pianodiff.{config_name} --help)") from None
    finally:
        if saved is not None:
            GlobalHydra.instance().initialize(saved)
