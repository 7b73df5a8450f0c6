"""Multi-rate DiffWave: DiffWave's residual stack run on frames of k samples.

The waveform (B, T) is folded into frames, (B, k, T/k), projected 1×1 to C channels, passed
through DiffWave's residual layers (``nets/diffwave.py``) at the frame rate, and projected
1×1 back to k samples per frame by a zero-initialised output layer. Per output sample a
layer costs ∝ C²/k, so at the cost of the full-rate ``small`` (20 × 32) the stack can be
~√k× wider, and every dilation reaches k× further in seconds: 20 layers with dilation cycle
10 on 16-sample frames see 2.97 s instead of 0.19 s. Wide convolutions also keep the CPU's
GEMM busy far better than 32-channel ones. Audio U-Nets get their long context the same way
(patching in audio-diffusion-pytorch, SaShiMi's pooled DiffWave backbone). Folding into
frames is a plain reshape in the channels-last layout, (B, T) -> (B, T/k, k), and the
stacks run their convolutions as matrix products on it (``nets/gemm_stack.py``).

Two options on top:

- ``fine_layers`` > 0 adds a few full-rate DiffWave layers under the framed stack (a
  two-rate net): they see x_t and the framed stack's estimate and add a zero-initialised
  correction, for detail finer than a frame.
- ``context=True`` makes the net context-conditioned: it also receives the known audio and
  its mask (``known`` and ``mask`` keyword arguments, both (B, T)) as input channels. Given
  no mask (or an all-zero one) it is an unconditional model, so one net makes the base
  window and continues it (``extender=conditioned``).
- ``profile_bins`` > 0 (12 or 128) makes the net profile-conditioned: it also receives a
  ``profile`` (B, bins), the pitch profile of the audio that exists before its window
  (``measures/past_profile.py``), mapped by a zero-initialised, bias-free linear layer and
  added to the step embedding, so it reaches every layer. Zero-initialised, a warm start
  from a net without it is bit-identical to that net until trained; bias-free, a profile of
  all zeros (or none) is the unconditional net at any weights, the branch classifier-free
  guidance needs (``diffusion/profile_guidance.py``).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from pianodiff.nets.diffwave import ResidualBlock, StepEmbedding
from pianodiff.nets.gemm_stack import stack_forward

PROFILE_SIZES = (0, 12, 128)  # no profile, pitch classes, MIDI notes


def dilated_stack_field(layers: int, dilation_cycle: int) -> int:
    """Receptive field, in positions, of ``layers`` kernel-3 convs with dilations 2^(i mod c)."""
    return 1 + sum(2 * 2 ** (i % dilation_cycle) for i in range(layers))


class GatedStack(nn.Module):
    """DiffWave's residual layers and skip head: (B, C_in, N) -> (B, C_out, N).

    The output projection is zero-initialised (DiffWave's reference code), so an untrained
    stack outputs 0.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        layers: int,
        channels: int,
        dilation_cycle: int,
        step_dim: int,
    ):
        super().__init__()
        self.input_projection = nn.Conv1d(in_channels, channels, kernel_size=1)
        self.blocks = nn.ModuleList(
            ResidualBlock(channels, 2 ** (i % dilation_cycle), step_dim) for i in range(layers)
        )
        self.skip_projection = nn.Conv1d(channels, channels, kernel_size=1)
        self.output_projection = nn.Conv1d(channels, out_channels, kernel_size=1)
        nn.init.kaiming_normal_(self.input_projection.weight)
        nn.init.kaiming_normal_(self.skip_projection.weight)
        nn.init.zeros_(self.output_projection.weight)
        nn.init.zeros_(self.output_projection.bias)

    def forward(self, x: torch.Tensor, step_embedding: torch.Tensor) -> torch.Tensor:
        """x (B, C_in, N), step_embedding (B, step_dim) -> (B, C_out, N)."""
        return self.forward_last(x.transpose(1, 2), step_embedding).transpose(1, 2)

    def forward_last(self, x: torch.Tensor, step_embedding: torch.Tensor) -> torch.Tensor:
        """x (B, N, C_in) channels-last, step_embedding (B, step_dim) -> (B, N, C_out).

        The convolutions run as matrix products on this layout (``nets/gemm_stack.py``).
        """
        return stack_forward(self, x, step_embedding)

    def forward_conv(self, x: torch.Tensor, step_embedding: torch.Tensor) -> torch.Tensor:
        """The same function through the modules' own convolutions (the reference form):
        x (B, C_in, N), step_embedding (B, step_dim) -> (B, C_out, N)."""
        x = F.relu(self.input_projection(x))
        skip_sum = torch.zeros_like(x)
        for block in self.blocks:
            x, skip = block(x, step_embedding)
            skip_sum = skip_sum + skip
        x = F.relu(self.skip_projection(skip_sum / math.sqrt(len(self.blocks))))
        return self.output_projection(x)


def to_frames(x: torch.Tensor, k: int) -> torch.Tensor:
    """(B, T) with T divisible by k -> (B, k, T/k): channel j holds samples j, j+k, j+2k, …."""
    return x.reshape(x.shape[0], -1, k).transpose(1, 2)


def from_frames(x: torch.Tensor) -> torch.Tensor:
    """(B, k, N) -> (B, N·k), the inverse of ``to_frames``."""
    return x.transpose(1, 2).reshape(x.shape[0], -1)


class MultiRateDiffWave(nn.Module):
    """ε̂ = f(x_t, t [, known, mask]) with the residual stack on k-sample frames.

    Args:
        frame: k, samples per frame (1 = plain DiffWave layout).
        residual_layers / residual_channels / dilation_cycle: the framed stack.
        step_embed_dim / step_hidden_dim: DiffWave's step embedding.
        fine_layers / fine_channels / fine_dilation_cycle: an optional full-rate stack
            (0 layers = none) that refines the framed estimate.
        context: also take the known audio and its mask as input channels.
        context_scale: gain on the known audio (about 1 / its RMS), so the context channels
            are near unit scale like the preconditioned x_t.
        profile_bins: 0 (no profile input), 12 (pitch classes) or 128 (MIDI notes): the size
            of the ``profile`` vector the net takes.
        profile_seconds: how much audio before a window its profile covers (read by the
            data module and the generation engine; the net itself only records it).
    """

    # True runs the stacks through their nn.Conv1d modules (the reference form, for tests
    # and benchmarks); the default runs the same weights as matrix products.
    conv_reference: bool = False

    def __init__(
        self,
        frame: int = 16,
        residual_layers: int = 20,
        residual_channels: int = 128,
        dilation_cycle: int = 10,
        step_embed_dim: int = 128,
        step_hidden_dim: int = 512,
        fine_layers: int = 0,
        fine_channels: int = 32,
        fine_dilation_cycle: int = 4,
        context: bool = False,
        context_scale: float = 10.0,
        profile_bins: int = 0,
        profile_seconds: float = 6.0,
    ):
        super().__init__()
        if frame < 1:
            raise ValueError(f"frame must be >= 1 sample, got {frame}")
        self.frame = frame
        self.residual_layers = residual_layers
        self.dilation_cycle = dilation_cycle
        self.fine_layers = fine_layers
        self.fine_dilation_cycle = fine_dilation_cycle
        self.context = context
        self.context_scale = float(context_scale)
        if profile_bins not in PROFILE_SIZES:
            raise ValueError(f"profile_bins must be 0, 12 or 128, got {profile_bins}")
        if not 0 < profile_seconds <= 30:
            raise ValueError(f"profile_seconds must be in (0, 30], got {profile_seconds}")
        self.profile_bins = int(profile_bins)
        self.profile_seconds = float(profile_seconds)
        self.step_embedding = StepEmbedding(step_embed_dim, step_hidden_dim)
        self.profile_projection = None
        if self.profile_bins:
            self.profile_projection = nn.Linear(self.profile_bins, step_hidden_dim, bias=False)
            nn.init.zeros_(self.profile_projection.weight)
        inputs = 3 if context else 1  # x_t, then known·mask and mask
        self.framed = GatedStack(
            inputs * frame,
            frame,
            residual_layers,
            residual_channels,
            dilation_cycle,
            step_hidden_dim,
        )
        self.fine = (
            GatedStack(
                inputs + 1, 1, fine_layers, fine_channels, fine_dilation_cycle, step_hidden_dim
            )
            if fine_layers > 0
            else None
        )

    @property
    def accepts_context(self) -> bool:
        """True when ``forward`` uses ``known`` and ``mask`` (``extender=conditioned``)."""
        return self.context

    def forward(
        self,
        x_t: torch.Tensor,
        step: torch.Tensor,
        known: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        profile: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x_t (B, T), step (B,) float [, known (B, T), mask (B, T), profile (B, bins)]
        -> ε̂ (B, T).

        T need not be a multiple of the frame: the input is zero-padded on the right and the
        output cropped back. ``known``/``mask`` are ignored unless the net has ``context``;
        ``profile`` (None: the unconditional net) needs ``profile_bins`` > 0.
        """
        length = x_t.shape[-1]
        pad = (-length) % self.frame
        channels = [x_t]
        if self.context:
            if mask is None:
                mask = torch.zeros_like(x_t)
                known = torch.zeros_like(x_t)
            elif known is None:
                raise ValueError("a context mask needs the known audio too")
            mask = mask.to(x_t.dtype)
            channels += [known.to(x_t.dtype) * mask * self.context_scale, mask]
        padded = [F.pad(c, (0, pad)) for c in channels]
        emb = self.step_embedding(step)
        if profile is not None:
            emb = emb + self.profile_embedding(profile, emb.dtype)
        if self.conv_reference:
            framed_in = torch.cat([to_frames(c, self.frame) for c in padded], dim=1)
            eps = from_frames(self.framed.forward_conv(framed_in, emb))
            if self.fine is not None:
                fine_in = torch.stack([*padded, eps], dim=1)
                eps = eps + self.fine.forward_conv(fine_in, emb).squeeze(1)
            return eps[:, :length]
        # Channels-last frames are a plain reshape: (B, T) -> (B, T/k, k), sample j of a
        # frame on channel j; the input channels of x_t, known and mask follow each other.
        batch = x_t.shape[0]
        framed_in = torch.cat([c.reshape(batch, -1, self.frame) for c in padded], dim=-1)
        eps = self.framed.forward_last(framed_in, emb).reshape(batch, -1)
        if self.fine is not None:
            fine_in = torch.stack([*padded, eps.to(padded[0].dtype)], dim=-1)
            eps = eps + self.fine.forward_last(fine_in, emb).squeeze(-1)
        return eps[:, :length]

    @property
    def accepts_profile(self) -> bool:
        """True when ``forward`` takes a ``profile`` (B, ``profile_bins``)."""
        return self.profile_projection is not None

    def profile_embedding(self, profile: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """profile (B, bins) -> (B, step_hidden_dim), the term added to the step embedding.

        The unit-length profile is scaled by √bins, so its entries are about unit size.
        """
        if self.profile_projection is None:
            raise ValueError("this net takes no profile (built with profile_bins=0)")
        if profile.ndim != 2 or profile.shape[-1] != self.profile_bins:
            raise ValueError(
                f"profile must be (B, {self.profile_bins}), got {tuple(profile.shape)}"
            )
        scaled = profile.to(self.profile_projection.weight.dtype) * math.sqrt(self.profile_bins)
        return self.profile_projection(scaled).to(dtype)

    @property
    def receptive_field(self) -> int:
        """Receptive field in samples: the framed stack's field in frames × k (+ the fine)."""
        field = dilated_stack_field(self.residual_layers, self.dilation_cycle) * self.frame
        if self.fine is not None:
            field += dilated_stack_field(self.fine_layers, self.fine_dilation_cycle) - 1
        return field

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
