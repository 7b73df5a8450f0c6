"""The body of ``python -m pianodiff.train``: compose, check, build and fit.

Thin on purpose: compose the config, build data, network, schedule, LightningModule,
callbacks, logger and trainer with ``hydra.utils.instantiate``, then ``fit``. The configs
ship inside the package (``pianodiff/conf``), so this works from any working directory and
from an installed wheel. The entrypoint itself is ``pianodiff/train.py``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.loggers import WandbLogger
from omegaconf import DictConfig, OmegaConf

import pianodiff.core.resolvers  # noqa: F401  (registers ${pd.*} before Hydra composes)
from pianodiff import cli
from pianodiff.checkpoint.ckpt_io import CONFIG_KEY, AtomicCheckpointIO
from pianodiff.checkpoint.export import CheckpointError
from pianodiff.checkpoint.from_training import load_training_checkpoint
from pianodiff.checkpoint.warm_start import initial_weights, warm_start
from pianodiff.conf import compose
from pianodiff.core.errors import USER_ERRORS
from pianodiff.core.safe_writes import RunFolder
from pianodiff.data.datamodule import NoUsableAudioError
from pianodiff.tracking.env import settle_wandb_mode
from pianodiff.training.lit_module import optimizer_name
from pianodiff.training.precision_probe import settle_trainer_precision

log = logging.getLogger(__name__)


def compose_train_config(overrides: list[str] | None = None) -> DictConfig:
    """The training config as ``python -m pianodiff.train OVERRIDES`` would compose it."""
    return compose("train", overrides)


def resolve_run_dir(cfg: DictConfig) -> Path:
    """The run directory: Hydra's output dir when launched by Hydra, else paths.run_dir.

    DDP children are started by Lightning with ``hydra.run.dir=<parent's dir>``, so reading
    it back from Hydra keeps every rank in the same folder.
    """
    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return Path(cfg.paths.run_dir)


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """``ckpt_path``: null, "last" (newest last.ckpt of runs named ${name}), a file or a run dir."""
    value = cfg.get("ckpt_path")
    if value in (None, ""):
        return None
    if str(value) == "last":
        pattern = f"{cfg.name}/*/checkpoints/last.ckpt"
        found = sorted(Path(cfg.paths.output_dir).glob(pattern), key=lambda p: p.stat().st_mtime)
        if not found:
            raise CheckpointError(
                f"ckpt_path=last: no {pattern} under {cfg.paths.output_dir}; "
                "train first or pass ckpt_path=<file.ckpt>"
            )
        return str(found[-1])
    path = Path(str(value)).expanduser()
    if path.is_dir():
        path = path / "checkpoints" / "last.ckpt"
    return str(path.absolute())


def check_resumable(
    ckpt_path: str, model_config: dict[str, Any], optimizer: Any | None = None
) -> None:
    """One-line errors for a corrupt or unsafe checkpoint, one of another architecture, or
    one whose optimiser state does not fit ``optimizer`` (the partial of module.optimizer)."""
    ckpt = load_training_checkpoint(ckpt_path)
    saved = ckpt[CONFIG_KEY]["model"]
    if saved != model_config:
        raise CheckpointError(
            f"{ckpt_path} was trained with model {saved}, not {model_config}; "
            "resume with the same model=... or start a new run"
        )
    if optimizer is not None:
        check_optimizer(ckpt_path, ckpt, optimizer)


def check_optimizer(ckpt_path: str, ckpt: dict[str, Any], optimizer: Any) -> None:
    """The checkpoint's optimiser must be the configured one: its saved state would not fit
    another (Adam's ``betas`` in SGD) or would silently change its settings."""
    probe = optimizer([torch.nn.Parameter(torch.zeros(1))])
    current = optimizer_name(probe)
    saved = ckpt[CONFIG_KEY].get("optimizer")
    fix = (
        f"resume with the optimizer it was trained with, or warm-start from its weights "
        f"with init_from={ckpt_path} (fresh optimiser)"
    )
    if saved is not None and saved != current:
        raise CheckpointError(
            f"{ckpt_path} was trained with optimizer {saved}, not {current} "
            f"(module.optimizer); {fix}"
        )
    states = ckpt.get("optimizer_states") or []
    groups = states[0].get("param_groups", []) if states and isinstance(states[0], dict) else []
    if saved is None and groups:  # an older checkpoint: compare the settings it holds
        have = set(groups[0]) - {"params"}
        want = set(probe.param_groups[0]) - {"params"}
        if have != want:
            differ = ", ".join(sorted(have ^ want))
            raise CheckpointError(
                f"{ckpt_path}'s optimizer state does not fit {current} (module.optimizer): "
                f"settings {differ} differ; {fix}"
            )


def set_threads(cfg: DictConfig) -> int:
    """torch CPU threads: ``num_threads`` or all cores shared among local processes."""
    n = cfg.get("num_threads")
    if n is None:
        devices = cfg.trainer.get("devices", 1)
        per_node = devices if isinstance(devices, int) and devices > 0 else 1
        n = max(1, (os.cpu_count() or 1) // per_node)
    torch.set_num_threads(int(n))
    return int(n)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit a model as ``cfg`` describes; returns the run dir, final step and metrics.

    A run refused or interrupted before its first step leaves no run folder behind.
    """
    run_dir = resolve_run_dir(cfg)
    log_name = f"{HydraConfig.get().job.name}.log" if HydraConfig.initialized() else None
    root, out = Path(cfg.paths.root_dir).absolute(), Path(cfg.paths.output_dir).absolute()
    # Empty folders above the run are removed up to the project root (or just above outputs).
    folder = RunFolder(run_dir, root if root in out.parents else out.parent, log_name)
    stage: dict[str, Any] = {"trainer": None}
    try:
        return _train(cfg, run_dir, stage)
    except (*USER_ERRORS, KeyboardInterrupt) as err:
        trainer = stage["trainer"]
        if trainer is None or trainer.global_step == 0:
            log.info("nothing trained (%s); run folder %s removed", type(err).__name__, run_dir)
            folder.discard()
        raise


def _train(cfg: DictConfig, run_dir: Path, stage: dict[str, Any]) -> dict[str, Any]:
    cfg.paths.run_dir = str(run_dir)  # every ${paths.run_dir} below now names this run
    threads = set_threads(cfg)
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    model_config = OmegaConf.to_container(cfg.model, resolve=True)
    diffusion_config = OmegaConf.to_container(cfg.diffusion, resolve=True)
    ckpt_path = resolve_ckpt_path(cfg)
    if ckpt_path is not None:
        check_resumable(ckpt_path, model_config, instantiate(cfg.module.optimizer))
    initial = None
    if cfg.get("init_from"):
        if ckpt_path is not None:
            raise CheckpointError("pass either ckpt_path= (resume) or init_from= (warm start)")
        initial = initial_weights(cfg.init_from)  # a bad source is refused before any build

    datamodule = instantiate(cfg.data)
    datamodule.check_sources()  # no data: one line, before a logger or W&B run exists
    net = instantiate(cfg.model)
    schedule = instantiate(cfg.diffusion)
    # Built as a partial and then called: Hydra would turn a dataclass argument (the
    # schedule) into a config node if it were passed to instantiate directly.
    module = instantiate(cfg.module, _partial_=True)(
        net=net,
        schedule=schedule,
        model_config=model_config,
        diffusion_config=diffusion_config,
    )
    if initial is not None:
        warm_start(module.net, module.ema.net, cfg.init_from, model_config, weights=initial)
        # The loaded EMA weights are already an average: keep them at the full decay. A
        # restarted warm-up exported the new run's raw weights within a few dozen steps, and
        # those lost the bundled model's notes at once (studies/training-history.md).
        module.ema.skip_warmup()
    # precision: auto on a CPU is timed here, on the built net, before the Trainer exists.
    settle_trainer_precision(cfg, module, datamodule, model_config, run_dir)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    if cfg.get("logger") and str(cfg.logger.get("_target_", "")).endswith("WandbLogger"):
        online = not cfg.logger.get("offline", True)
        settle_wandb_mode(os.environ.get("WANDB_MODE", "online") if online else "offline")
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    trainer: L.Trainer = instantiate(cfg.trainer, _partial_=True)(
        callbacks=callbacks,
        logger=logger,
        default_root_dir=str(run_dir),
        plugins=[AtomicCheckpointIO()],  # last.ckpt is whole or absent after any kill
    )
    stage["trainer"] = trainer
    if logger:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    if trainer.is_global_zero:
        log.info(
            "run dir %s | %s: %.2f M params, receptive field %.3f s | %d threads | resume: %s"
            " | init_from: %s",
            run_dir,
            cfg.model._target_.rsplit(".", 1)[-1],
            net.num_parameters() / 1e6,
            net.receptive_field / datamodule.sample_rate,
            threads,
            ckpt_path,
            cfg.get("init_from"),
        )
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    finally:
        # Close the W&B run so that a later run in the same process (a sweep, a notebook,
        # generate after train) starts its own instead of appending to this one.
        if any(isinstance(lg, WandbLogger) for lg in trainer.loggers):
            import wandb

            wandb.finish()
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    return {
        "run_dir": run_dir,
        "global_step": trainer.global_step,
        "metrics": metrics,
        "trainer": trainer,
        "module": module,
    }


def check_data(cfg: DictConfig) -> None:
    """Preflight of the command line: training without its data ends here, in one line,
    before Hydra makes a run folder (``train`` checks again for in-process callers)."""
    from omegaconf.errors import MissingMandatoryValue

    try:
        datamodule = instantiate(cfg.data)
    except MissingMandatoryValue:
        raise cli.ConfigError(
            "data.root is not set: data.root=<folder of audio files> (or `make data` and "
            "data=piano14)"
        ) from None
    except Exception:  # anything else is training's to report, with its own context
        return
    try:
        datamodule.check_sources()
    except NoUsableAudioError as err:
        raise cli.ConfigError(str(err)) from None
