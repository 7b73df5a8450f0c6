"""The LightningModule that trains a DiffWave ε-network (Ho et al. 2020, Algorithm 1).

One training step: draw t ~ U{0..T−1} and ε ~ N(0, I), form x_t = q_sample(x0, ᾱ_t, ε)
(Ho eq. 4), and regress the network's ε̂(x_t, t) onto ε: L1 as DiffWave's reference code
does, or L2 (Ho eq. 14). The module holds no sampling loop: demo sampling
lives in ``callbacks/demo_sampling.py``.

t and ε are drawn from a generator seeded by (seed, global step, rank), so a resumed run
continues with exactly the draws an uninterrupted run would have made.

A profile-conditioned net (``model=framed16_ctx_profile``) trains on batches that carry the
pitch profile of the audio before each crop (``data.profile``); the module hands it to the
net and zeroes it for a ``profile_drop`` share of the items, so the same net keeps an
unconditional branch for classifier-free guidance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from pianodiff.checkpoint.ckpt_io import CONFIG_KEY
from pianodiff.core.errors import UserError
from pianodiff.data.context_masks import ContextMasks
from pianodiff.data.dataset import stream_seed
from pianodiff.diffusion.preconditioning import accepts_context
from pianodiff.diffusion.process import q_sample
from pianodiff.diffusion.profile_guidance import profile_input
from pianodiff.diffusion.schedule import NoiseSchedule
from pianodiff.training.ema import EMA

LOSSES = ("l1", "l2")
LOSS_WEIGHTS = ("none", "min_snr")


def loss_weights(alpha_bar: torch.Tensor, kind: str = "none", gamma: float = 5.0) -> torch.Tensor:
    """Per-step weights (T,) of the ε loss, normalised to mean 1 over the T steps.

    "min_snr": min(SNR_t, γ) / SNR_t with SNR_t = ᾱ_t / (1 − ᾱ_t) (Hang et al. 2023,
    "Efficient Diffusion Training via Min-SNR Weighting Strategy", for ε-prediction): the
    low-noise steps, whose gradients conflict with the rest, count less. The mean-1
    normalisation keeps the effective learning rate comparable with the unweighted loss.
    """
    if kind not in LOSS_WEIGHTS:
        raise ValueError(f"loss_weight must be one of {LOSS_WEIGHTS}, got {kind!r}")
    if kind == "none":
        return torch.ones_like(alpha_bar, dtype=torch.float32)
    snr = alpha_bar.double() / (1.0 - alpha_bar.double())
    weights = snr.clamp(max=gamma) / snr
    return (weights / weights.mean()).float()


class NonFiniteLossError(FloatingPointError, UserError):
    """Training produced a NaN/inf loss or gradient; the message names the step."""


class ProfileNotAcceptedError(UserError):
    """The data carries pitch profiles but the network takes none (one line with the fix)."""


def split_batch(batch: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A training batch as (crops (B, T), profiles (B, bins) or None).

    A plain tensor is crops alone; a pair is what a data module with ``profile`` gives.
    """
    if isinstance(batch, torch.Tensor):
        return batch, None
    crops, profiles = batch
    return crops, profiles


def linear_warmup(
    optimizer: torch.optim.Optimizer,
    warmup_steps: int = 1000,
    decay_steps: int | None = None,
    final_fraction: float = 1.0,
) -> LambdaLR:
    """LR factor rising linearly 0 → 1 over ``warmup_steps``, then optionally a cosine decay
    to ``final_fraction`` by step ``decay_steps`` (constant when ``decay_steps`` is None)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if decay_steps is None or decay_steps <= warmup_steps:
            return 1.0
        progress = min(1.0, (step - warmup_steps) / (decay_steps - warmup_steps))
        return final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)


class DiffWaveModule(L.LightningModule):
    """Trains ``net`` to predict the noise of ``schedule``'s forward process.

    Args:
        net: the ε-network, ε̂ = net(x_t (B, T), t (B,) float) -> (B, T).
        schedule: the training noise schedule (T steps).
        optimizer: a partial optimiser, called with the parameters.
        scheduler: an optional partial LR scheduler, called with the optimiser (per step).
        loss: "l1" or "l2" on ε.
        loss_weight / min_snr_gamma: per-step weighting of the training loss
            (``loss_weights``); validation losses stay unweighted.
        ema_decay: final EMA decay; ema_warmup: use the (1+n)/(10+n) warm-up.
        t_buckets: the training loss is also logged per this many equal ranges of t.
        val_steps: fixed t values of the validation loss (default: 5 evenly spaced).
        val_use_ema: validate the EMA weights (the ones exported) instead of the raw ones.
        seed: seed of the per-step t/ε draws and of the fixed validation noise.
        compile_net: torch.compile (inductor) the training network in place (its parameter
            names, so checkpoints, are unchanged; the EMA copy stays eager). The first
            steps pay the compilation (minutes on a CPU); see ``benchmarks/train_step.py``.
        context_masks: for a context-conditioned net, the random known-region masks it
            trains with (the loss then counts only the audio it was not given).
        profile_drop: for a profile-conditioned net fed profiles by the data, the share of
            items whose profile is zeroed (its unconditional branch; 0.1-0.5 is usual).
        model_config / diffusion_config: the resolved configs stored in every checkpoint.
    """

    def __init__(
        self,
        net: nn.Module,
        schedule: NoiseSchedule,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        loss: str = "l1",
        loss_weight: str = "none",
        min_snr_gamma: float = 5.0,
        ema_decay: float = 0.999,
        ema_warmup: bool = True,
        t_buckets: int = 4,
        val_steps: Sequence[int] | None = None,
        val_use_ema: bool = True,
        seed: int = 0,
        context_masks: ContextMasks | None = None,
        profile_drop: float = 0.3,
        compile_net: bool = False,
        model_config: dict | None = None,
        diffusion_config: dict | None = None,
    ):
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        self.net = net
        self.ema = EMA(net, ema_decay, ema_warmup)
        self.schedule = schedule
        self.register_buffer("alpha_bar", schedule.alpha_bar.float(), persistent=False)
        weights = loss_weights(schedule.alpha_bar, loss_weight, min_snr_gamma)
        self.register_buffer("step_weights", weights, persistent=False)
        self.weighted = loss_weight != "none"
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.loss_name = loss
        self.t_buckets = max(1, min(t_buckets, schedule.num_steps))
        T = schedule.num_steps
        default_val = torch.linspace(0, T - 1, min(5, T)).round().long().tolist()
        self.val_steps = [int(t) for t in (val_steps if val_steps is not None else default_val)]
        if any(not 0 <= t < T for t in self.val_steps):
            raise ValueError(f"val_steps must lie in 0..{T - 1}, got {self.val_steps}")
        self.val_use_ema = val_use_ema
        self.seed = seed
        if context_masks is not None and not accepts_context(net):
            raise ValueError(
                "module.context_masks needs a context-conditioned model (e.g. model=framed16_ctx); "
                "set module.context_masks=null for this one"
            )
        self.context_masks = context_masks
        if not 0.0 <= float(profile_drop) <= 1.0:
            raise ValueError(f"module.profile_drop must lie in [0, 1], got {profile_drop}")
        self.profile_drop = float(profile_drop)
        self.takes_profile = profile_input(net) is not None
        if compile_net:
            self.net.compile()  # after the EMA's deep copy: the average stays eager
        self.model_config = model_config
        self.diffusion_config = diffusion_config

    # -- the loss --------------------------------------------------------------------------

    def per_item_loss(
        self, eps_hat: torch.Tensor, eps: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, T), (B, T) [, weight (B, T)] -> (B,) mean L1 or L2 error per item, in float32.

        With ``weight`` the mean is taken over the weighted samples only.
        """
        err = eps_hat.float() - eps
        err = err.abs() if self.loss_name == "l1" else err.pow(2)
        if weight is None:
            return err.mean(dim=-1)
        return (err * weight).sum(dim=-1) / weight.sum(dim=-1).clamp(min=1.0)

    def diffusion_loss(
        self,
        net: nn.Module,
        x0: torch.Tensor,
        t: torch.Tensor,
        eps: torch.Tensor,
        mask: torch.Tensor | None = None,
        profile: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Per-item ε loss (B,) of ``net`` at integer steps t (B,) with noise ε (B, T).

        With a context ``mask`` (B, T) the net is also given x0 where the mask is 1 and is
        scored where it is 0 (there x_t and x0 would give ε away exactly). A ``profile``
        (B, bins) is handed to a profile-conditioned net.
        """
        x_t = q_sample(x0, self.alpha_bar[t].unsqueeze(-1), eps)
        extra = {} if profile is None else {"profile": profile}
        if mask is None:
            return self.per_item_loss(net(x_t, t.float(), **extra), eps)
        eps_hat = net(x_t, t.float(), known=x0, mask=mask, **extra)
        return self.per_item_loss(eps_hat, eps, 1.0 - mask)

    def dropped_profiles(self, profile: torch.Tensor, index: int) -> torch.Tensor:
        """``profile`` (B, bins) with a ``profile_drop`` share of its rows zeroed, drawn from
        their own seeded stream (t, ε and the masks stay as they were)."""
        if not self.takes_profile:
            raise ProfileNotAcceptedError(
                "data.profile gives pitch profiles but the network takes none: train a "
                "profile-conditioned model (experiment=piano14_ctx_profile, or "
                "model=framed16_ctx_profile) or set data.profile=null"
            )
        gen = torch.Generator().manual_seed(stream_seed(self.seed + 3, index))
        keep = torch.rand(profile.shape[0], generator=gen) >= self.profile_drop
        return profile.float() * keep.to(profile.device, torch.float32).unsqueeze(-1)

    def _draws(
        self, x0: torch.Tensor, index: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        gen = torch.Generator(device=x0.device).manual_seed(stream_seed(self.seed, index))
        t = torch.randint(self.schedule.num_steps, (x0.shape[0],), generator=gen, device=x0.device)
        eps = torch.randn(x0.shape, generator=gen, device=x0.device, dtype=torch.float32)
        mask = None
        if self.context_masks is not None:  # drawn after t and ε: those stay as they were
            cpu_gen = torch.Generator().manual_seed(stream_seed(self.seed + 2, index))
            mask = self.context_masks.draw(x0.shape[0], x0.shape[-1], cpu_gen, x0.device)
        return t, eps, mask

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        crops, profile = split_batch(batch)
        x0 = crops.float()
        index = self.global_step * self.trainer.world_size + self.global_rank
        t, eps, mask = self._draws(x0, index)
        if profile is not None:
            profile = self.dropped_profiles(profile, index)
        per_item = self.diffusion_loss(self.net, x0, t, eps, mask, profile)
        loss = (per_item * self.step_weights[t]).mean() if self.weighted else per_item.mean()
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"training loss is {loss.item()} at step {self.global_step}; stopped, the last "
                "good checkpoint is kept (lower the learning rate or check the data)"
            )
        self.log("train/loss", per_item.mean().detach(), prog_bar=True)  # unweighted ε loss
        if self.weighted:
            self.log("train/objective", loss.detach())
        self._log_buckets(per_item.detach(), t)
        return loss

    def _log_buckets(self, per_item: torch.Tensor, t: torch.Tensor) -> None:
        T, k = self.schedule.num_steps, self.t_buckets
        bucket = t * k // T
        for b in range(k):
            sel = bucket == b
            if sel.any():
                lo, hi = b * T // k, (b + 1) * T // k - 1
                self.log(f"train/loss_t{lo:03d}-{hi:03d}", per_item[sel].mean())

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # A finite loss can still give inf gradients; stop before they reach the weights.
        grads = [p.grad for p in self.net.parameters() if p.grad is not None]
        if grads and not torch.isfinite(torch.stack(torch._foreach_norm(grads))).all():
            raise NonFiniteLossError(
                f"non-finite gradient at step {self.global_step}; stopped, the last good "
                "checkpoint is kept (lower the learning rate or enable gradient clipping)"
            )

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)
        # Here, not in on_train_batch_end: checkpoint callbacks run before the module's
        # batch-end hook, and a checkpoint must hold the EMA of the step it records.
        self.ema.update(self.net)
        self.log("train/ema_decay", self.ema.current_decay())

    # -- validation ------------------------------------------------------------------------

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        """ε loss at each fixed t in ``val_steps`` with noise fixed by (seed, batch_idx)."""
        x0 = batch.float()
        net = self.ema if self.val_use_ema else self.net
        gen = torch.Generator().manual_seed(stream_seed(self.seed + 1, batch_idx))
        losses = []
        for t_val in self.val_steps:
            eps = torch.randn(x0.shape, generator=gen).to(x0.device)
            t = torch.full((x0.shape[0],), t_val, device=x0.device, dtype=torch.long)
            loss = self.diffusion_loss(net, x0, t, eps).mean()
            self.log(f"val/loss_t{t_val:03d}", loss, sync_dist=True, batch_size=len(x0))
            losses.append(loss)
        self.log(
            "val/loss",
            torch.stack(losses).mean(),
            prog_bar=True,
            sync_dist=True,
            batch_size=len(x0),
        )

    # -- optimisation and checkpoints ------------------------------------------------------

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.net.parameters())
        self.optimizer_name = optimizer_name(optimizer)
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        lr = {"scheduler": scheduler, "interval": "step"}
        return {"optimizer": optimizer, "lr_scheduler": lr}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # The checkpoint rebuilds its own network (see checkpoint/from_training.py).
        # Plain containers only, so that torch.load(weights_only=True) reads it back.
        checkpoint[CONFIG_KEY] = plain(
            {
                "model": self.model_config,
                "diffusion": self.diffusion_config,
                "num_steps": self.schedule.num_steps,
                "optimizer": getattr(self, "optimizer_name", None),
            }
        )


def optimizer_name(optimizer: torch.optim.Optimizer) -> str:
    """The optimiser's class as a dotted name, e.g. "torch.optim.adam.Adam"."""
    return f"{type(optimizer).__module__}.{type(optimizer).__qualname__}"


def plain(value: Any) -> Any:
    """``value`` with every OmegaConf node turned into plain dicts and lists (resolved)."""
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
