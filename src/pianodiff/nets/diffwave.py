"""The unconditional DiffWave ε-network (Kong et al. 2020, "DiffWave", §3 and Fig. 2).

A WaveNet-like stack of residual layers with bidirectional dilated convolutions, gated
activations and skip connections. The network knows nothing of noise schedules: it maps a
noisy waveform and a (possibly fractional) step index to a prediction of the noise.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from pianodiff.nets.gemm_stack import stack_forward


class StepEmbedding(nn.Module):
    """Sinusoidal embedding of the diffusion step followed by two SiLU MLP layers.

    The sinusoid is evaluated at the step value itself, so fractional steps (DiffWave's fast
    sampling maps inference noise levels onto non-integer training steps) embed smoothly.
    """

    def __init__(self, embed_dim: int = 128, hidden_dim: int = 512):
        super().__init__()
        half = embed_dim // 2
        # DiffWave §C: t_embedding = [sin(10^{i·4/63} t), cos(10^{i·4/63} t)], i = 0..63.
        exponents = torch.arange(half, dtype=torch.float32) * 4.0 / max(half - 1, 1)
        self.register_buffer("frequencies", 10.0**exponents, persistent=False)
        self.proj1 = nn.Linear(embed_dim, hidden_dim)
        self.proj2 = nn.Linear(hidden_dim, hidden_dim)

    def forward(self, step: torch.Tensor) -> torch.Tensor:
        """step (B,) float -> embedding (B, hidden_dim)."""
        angles = step.float().unsqueeze(-1) * self.frequencies
        x = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
        x = F.silu(self.proj1(x))
        return F.silu(self.proj2(x))


class ResidualBlock(nn.Module):
    """One DiffWave residual layer: dilated conv, step conditioning, gate, residual + skip."""

    def __init__(self, channels: int, dilation: int, step_dim: int):
        super().__init__()
        self.dilated_conv = nn.Conv1d(
            channels, 2 * channels, kernel_size=3, padding=dilation, dilation=dilation
        )
        self.step_projection = nn.Linear(step_dim, channels)
        self.output_projection = nn.Conv1d(channels, 2 * channels, kernel_size=1)
        nn.init.kaiming_normal_(self.dilated_conv.weight)
        nn.init.kaiming_normal_(self.output_projection.weight)

    def forward(self, x: torch.Tensor, step_embedding: torch.Tensor):
        """x (B, C, T), step_embedding (B, step_dim) -> (residual (B, C, T), skip (B, C, T))."""
        y = x + self.step_projection(step_embedding).unsqueeze(-1)
        gate, filt = self.dilated_conv(y).chunk(2, dim=1)
        y = torch.sigmoid(gate) * torch.tanh(filt)
        residual, skip = self.output_projection(y).chunk(2, dim=1)
        return (x + residual) / math.sqrt(2.0), skip


class DiffWave(nn.Module):
    """Unconditional DiffWave: ε̂ = f(x_t, t).

    Args:
        residual_layers: number of residual layers (paper: 30 for vocoding, 36 unconditional).
        residual_channels: channels C of every layer (paper: 64; 256 unconditional).
        dilation_cycle: dilation of layer i is 2^(i mod dilation_cycle) (paper: 10; 12 uncond.).
        step_embed_dim: size of the sinusoidal step embedding.
        step_hidden_dim: width of the step-embedding MLP.
    """

    conv_reference: bool = False  # True: run the nn.Conv1d modules (the reference form)

    def __init__(
        self,
        residual_layers: int = 30,
        residual_channels: int = 64,
        dilation_cycle: int = 10,
        step_embed_dim: int = 128,
        step_hidden_dim: int = 512,
    ):
        super().__init__()
        self.residual_layers = residual_layers
        self.residual_channels = residual_channels
        self.dilation_cycle = dilation_cycle
        self.input_projection = nn.Conv1d(1, residual_channels, kernel_size=1)
        self.step_embedding = StepEmbedding(step_embed_dim, step_hidden_dim)
        self.blocks = nn.ModuleList(
            ResidualBlock(residual_channels, 2 ** (i % dilation_cycle), step_hidden_dim)
            for i in range(residual_layers)
        )
        self.skip_projection = nn.Conv1d(residual_channels, residual_channels, kernel_size=1)
        self.output_projection = nn.Conv1d(residual_channels, 1, kernel_size=1)
        nn.init.kaiming_normal_(self.input_projection.weight)
        nn.init.kaiming_normal_(self.skip_projection.weight)
        # Zero-initialised output (DiffWave's reference code): an untrained net predicts 0.
        nn.init.zeros_(self.output_projection.weight)
        nn.init.zeros_(self.output_projection.bias)

    def forward(self, x_t: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        """x_t (B, T) noisy audio, step (B,) float training-step index -> ε̂ (B, T).

        The stack runs as matrix products on channels-last (B, T, C) activations
        (``nets/gemm_stack.py``); ``conv_reference = True`` runs the modules' convolutions.
        """
        emb = self.step_embedding(step)
        if not self.conv_reference:
            return stack_forward(self, x_t.unsqueeze(-1), emb).squeeze(-1)
        x = F.relu(self.input_projection(x_t.unsqueeze(1)))
        skip_sum = torch.zeros_like(x)
        for block in self.blocks:
            x, skip = block(x, emb)
            skip_sum = skip_sum + skip
        x = skip_sum / math.sqrt(len(self.blocks))
        x = F.relu(self.skip_projection(x))
        return self.output_projection(x).squeeze(1)

    @property
    def receptive_field(self) -> int:
        """Receptive field in samples: 1 + Σ 2·dilation over the layers (kernel size 3)."""
        return 1 + sum(2 * 2 ** (i % self.dilation_cycle) for i in range(self.residual_layers))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
