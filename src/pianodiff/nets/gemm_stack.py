"""DiffWave's residual stack as matrix products on channels-last (B, N, C) tensors.

The stack's convolutions are all matrix products in disguise. With the activations laid out
(B, N, C), frames by channels:

- a 1×1 convolution is ``F.linear`` (weight (C_out, C_in, 1) read as (C_out, C_in));
- a kernel-3 convolution of dilation d is one product of the three shifted views
  ``[y[t-d], y[t], y[t+d]]``, concatenated on channels, (B·N, 3C) @ (3C, 2C), with the
  weight (2C, C, 3) read as (2C, 3C) and transposed (zeros beyond either edge, as the
  convolution's padding);
- the step projections of all L layers are one product, (B, S) @ (S, L·C), per forward.

The activations keep this one layout and one dtype through the whole stack, so a forward
is a chain of large GEMMs and a few elementwise passes, with no per-call layout reorders
(oneDNN's convolutions reorder on every call under bf16 on some CPUs). The parameters stay
the modules' own (``nn.Conv1d`` and ``nn.Linear``: the same state dict keys, checkpoints
load unchanged); the reshaped weights are built per forward, or, when no gradient can flow
into them, cached per dtype and device until a parameter changes.

Two paths compute the same function:

- :func:`stack_forward_autograd`: plain differentiable ops, for training, for gradients
  through the net (guidance) and under ``torch.compile``;
- :func:`stack_forward_inference`: no gradient; the GEMMs accumulate in place
  (``addmm`` with ``out=``, which FlopCounterMode counts, unlike ``addmm_``). It keeps the
  residual stream between zero margins as wide as the largest dilation, so the three
  shifted inputs of a kernel-3 conv are row-offset views of one buffer: the conv is three
  accumulating products, (N, C) @ (C, 2C) each, with no shifted copies. What is constant
  over frames never touches the stream: the step term and the stream's own bias enter
  each conv as a bias vector (less each tap's part on the rows where that tap reads the
  padding), and the skip biases are added once, in the head. The 1/√2 of every residual
  update is folded into the weights: the buffer holds g_i = h_i·√2^i, which layer i's
  taps read through a factor √½^i and its residual rows write through √2^i, so an update
  is one accumulating product. In fp32, fp64 and bf16, tanh(f) is computed as
  2·σ(2f) − 1, so one sigmoid covers both halves of the gate (the factor 2 folded into the
  cached weights): tanh is 2.5–3× dearer than sigmoid on these CPUs (bf16's cost in
  accuracy at ``SIGMOID_TANH``). Relative error against the convolutions ~1e-7 in fp32
  (``tests/test_net_gemm.py``).

A stack is any module with ``input_projection``, ``blocks`` (each with ``dilated_conv``,
``step_projection`` and ``output_projection``), ``skip_projection`` and
``output_projection``: ``nets/multirate.py``'s ``GatedStack`` and ``nets/diffwave.py``'s
``DiffWave``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

ROOT_HALF = 1.0 / math.sqrt(2.0)
ROOT_TWO = math.sqrt(2.0)
# Dtypes whose inference path takes tanh(f) = 2σ(2f) − 1. In bf16, σ near 1/2 keeps few bits
# for that difference: the bundled net's 5 s forward moves from 9.6e-3 to 1.3e-2 relative
# error against fp32 (bf16's own order) and runs ~4 % faster (its residual stack alone ~10 %),
# as bf16 tanh is ~2.5× dearer than bf16 sigmoid on CPUs; the listening measures of 8 seeds
# did not move (docs/generation.md). fp16 (GPU-only here, where tanh is cheap) calls tanh.
SIGMOID_TANH = (torch.float32, torch.float64, torch.bfloat16)


@dataclass(frozen=True)
class StackWeights:
    """A stack's weights as (out, in) matrices, ``F.linear``'s layout, in one dtype (L
    layers, C channels, S step width).

    ``dilated[i]`` (2C, 3C) and ``dilated_bias[i]`` (2C,) are layer i's kernel-3 conv (in
    the inference form, the filter half is pre-scaled by 2); ``output[i]`` (2C, C) its 1×1
    output projection (residual rows, then skip rows); ``steps`` (L·C, S) and
    ``steps_bias`` (L·C,) all layers' step projections. The products take them transposed
    (``W.t()``, a view): oneDNN's bf16 GEMM runs the 1×1 products about 2× faster from this
    layout than from contiguous (in, out) matrices, which it reorders on every call.
    """

    input: torch.Tensor  # (C, C_in)
    input_bias: torch.Tensor  # (C,)
    steps: torch.Tensor  # (L·C, S)
    steps_bias: torch.Tensor  # (L·C,)
    dilated: list[torch.Tensor]  # L × (2C, 3C)
    dilated_bias: list[torch.Tensor]  # L × (2C,)
    output: list[torch.Tensor]  # L × (2C, C)
    output_bias: list[torch.Tensor]  # L × (2C,)
    skip: torch.Tensor  # (C, C)
    skip_bias: torch.Tensor  # (C,)
    final: torch.Tensor  # (C_out, C)
    final_bias: torch.Tensor  # (C_out,)
    dilations: tuple[int, ...]
    filter_doubled: bool = False


@dataclass(frozen=True)
class StreamWeights:
    """The inference path's per-layer matrices (L layers, C channels), in one dtype.

    ``taps[i]`` (3·2C, C): the dilated conv's three taps, tap k's (2C, C) block at rows
    k·2C, scaled by √½^i; ``residual[i]`` (C, C) and ``skip[i]`` (C, C): the output
    projection's two halves, the residual one scaled by √2^i. Two bias terms depend on the
    weights alone, so they are kept here rather than rebuilt every call: ``shifts`` (L, C),
    the residual stream's bias where layer i reads it (the output biases carried through
    the 1/√2 updates), and ``head_bias`` (C,), the skip head's bias with the layers' skip
    biases folded through its projection.
    """

    taps: list[torch.Tensor]
    residual: list[torch.Tensor]
    skip: list[torch.Tensor]
    shifts: torch.Tensor
    head_bias: torch.Tensor


def _matrix(conv: nn.Conv1d) -> torch.Tensor:
    """A 1×1 conv's weight (C_out, C_in, 1) as a (C_out, C_in) matrix."""
    return conv.weight[..., 0]


def pack_weights(stack: nn.Module, dtype: torch.dtype | None, scale_filter: bool) -> StackWeights:
    """The stack's parameters reshaped for the GEMM forms (differentiable; no copy kept).

    ``scale_filter`` doubles the filter half of every dilated conv (the inference path's
    tanh(f) = 2σ(2f) − 1). ``dtype`` None keeps the parameters' own.
    """

    def cast(t: torch.Tensor) -> torch.Tensor:
        return t if dtype is None else t.to(dtype)

    dilated, dilated_bias, output, output_bias, dilations = [], [], [], [], []
    for block in stack.blocks:
        conv = block.dilated_conv
        weight, bias = conv.weight, conv.bias  # (2C, C, 3): out, in, tap
        if scale_filter:
            gain = torch.ones(weight.shape[0], 1, 1, dtype=weight.dtype, device=weight.device)
            gain[weight.shape[0] // 2 :] = 2.0
            weight, bias = weight * gain, bias * gain[:, 0, 0]
        # (2C, C, 3) -> (2C, 3, C) -> (2C, 3C): input column tap·C + c meets y[t + (tap-1)·d].
        dilated.append(cast(weight.permute(0, 2, 1).reshape(weight.shape[0], -1)))
        dilated_bias.append(cast(bias))
        output.append(cast(_matrix(block.output_projection)))
        output_bias.append(cast(block.output_projection.bias))
        dilations.append(int(conv.dilation[0]))
    steps = torch.cat([b.step_projection.weight for b in stack.blocks])
    steps_bias = torch.cat([b.step_projection.bias for b in stack.blocks])
    return StackWeights(
        input=cast(_matrix(stack.input_projection)),
        input_bias=cast(stack.input_projection.bias),
        steps=cast(steps),
        steps_bias=cast(steps_bias),
        dilated=dilated,
        dilated_bias=dilated_bias,
        output=output,
        output_bias=output_bias,
        skip=cast(_matrix(stack.skip_projection)),
        skip_bias=cast(stack.skip_projection.bias),
        final=cast(_matrix(stack.output_projection)),
        final_bias=cast(stack.output_projection.bias),
        dilations=tuple(dilations),
        filter_doubled=scale_filter,
    )


def _contiguous(w: StackWeights) -> StackWeights:
    """A detached, contiguous copy (what the cache keeps)."""
    return StackWeights(
        **{
            k: (
                [t.detach().contiguous() for t in v]
                if isinstance(v, list)
                else v.detach().contiguous()
                if isinstance(v, torch.Tensor)
                else v
            )
            for k, v in vars(w).items()
        }
    )


def compute_dtype(stack: nn.Module, x: torch.Tensor) -> torch.dtype:
    """The dtype the stack computes in: autocast's where autocast is on, else the weights'."""
    dtype = stack.input_projection.weight.dtype
    kind = x.device.type
    if dtype.is_floating_point and torch.is_autocast_enabled(kind):
        return torch.get_autocast_dtype(kind)
    return dtype


def cached_weights(stack: nn.Module, dtype: torch.dtype) -> tuple[StackWeights, StreamWeights]:
    """The inference forms of ``stack``'s weights in ``dtype``, kept until a parameter changes.

    The key is every parameter's storage and version counter, so an optimiser step,
    ``load_state_dict`` or ``.to()`` makes the next call rebuild it. Parameters without a
    version counter (made under inference mode) are packed afresh on every call.
    """
    params = list(stack.parameters())
    try:
        key = (dtype, *((p.data_ptr(), p._version) for p in params))
    except RuntimeError:  # inference tensors track no version
        return _inference_form(stack, dtype)
    cache = stack.__dict__.setdefault("_gemm_weights", {})
    hit = cache.get(dtype)
    if hit is None or hit[0] != key:
        with torch.no_grad():
            hit = (key, _inference_form(stack, dtype))
        cache[dtype] = hit
    return hit[1]


def _inference_form(stack: nn.Module, dtype: torch.dtype) -> tuple[StackWeights, StreamWeights]:
    """Both weight forms the inference path reads, detached and contiguous."""
    w = _contiguous(pack_weights(stack, dtype, scale_filter=dtype in SIGMOID_TANH))
    return w, stream_weights(w)


def stack_forward(stack: nn.Module, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
    """x (B, N, C_in) channels-last, emb (B, S) -> (B, N, C_out): the stack's output.

    Takes the inference path when no gradient can flow (grad mode off, or neither the
    parameters nor the inputs require one) and the differentiable path otherwise.
    """
    needs_grad = torch.is_grad_enabled() and (
        x.requires_grad or emb.requires_grad or any(p.requires_grad for p in stack.parameters())
    )
    if needs_grad or torch.compiler.is_compiling():
        return stack_forward_autograd(stack, x, emb)
    dtype = compute_dtype(stack, x)
    return stack_forward_inference(*cached_weights(stack, dtype), x.to(dtype), emb.to(dtype))


def _shifted(y: torch.Tensor, d: int) -> torch.Tensor:
    """y (B, N, C) -> (B, N, 3C): [y[t-d], y[t], y[t+d]] on channels, zeros off the edges."""
    n = y.shape[1]
    padded = F.pad(y, (0, 0, d, d))
    return torch.cat([padded[:, :n], padded[:, d : d + n], padded[:, 2 * d : 2 * d + n]], -1)


def stack_forward_autograd(stack: nn.Module, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
    """x (B, N, C_in), emb (B, S) -> (B, N, C_out) with plain differentiable ops."""
    w = pack_weights(stack, None, scale_filter=False)
    layers = len(w.dilated)
    h = F.relu(F.linear(x, w.input, w.input_bias))
    steps = F.linear(emb, w.steps, w.steps_bias).unflatten(-1, (layers, -1))  # (B, L, C)
    skip_sum = None
    for i, d in enumerate(w.dilations):
        y = h + steps[:, i].unsqueeze(1)
        gate, filt = F.linear(_shifted(y, d), w.dilated[i], w.dilated_bias[i]).chunk(2, -1)
        y = torch.sigmoid(gate) * torch.tanh(filt)
        residual, skip = F.linear(y, w.output[i], w.output_bias[i]).chunk(2, -1)
        h = (h + residual) * ROOT_HALF
        skip_sum = skip if skip_sum is None else skip_sum + skip
    h = F.relu(F.linear(skip_sum / math.sqrt(layers), w.skip, w.skip_bias))
    return F.linear(h, w.final, w.final_bias)


def stream_weights(w: StackWeights) -> StreamWeights:
    """The inference path's per-layer matrices, derived from ``w`` (same dtype).

    Layer i reads the scaled stream g_i = h_i·√2^i, so its taps carry √½^i and its residual
    rows √2^i (module docstring).
    """
    channels = w.input.shape[0]
    taps, residual, skip, shifts = [], [], [], []
    shift = torch.zeros_like(w.input_bias)  # the stream's bias: none after the input layer
    skip_bias = torch.zeros_like(shift)
    for i, dilated in enumerate(w.dilated):
        # (2C, 3C) -> (2C, 3, C) -> (3, 2C, C) -> (3·2C, C): tap k's block at rows k·2C.
        per_tap = dilated.view(2 * channels, 3, channels).transpose(0, 1)
        taps.append((per_tap * ROOT_HALF**i).reshape(-1, channels).contiguous())
        residual.append((w.output[i][:channels] * ROOT_TWO**i).contiguous())
        skip.append(w.output[i][channels:].contiguous())
        shifts.append(shift)
        shift = (shift + w.output_bias[i][:channels]) * ROOT_HALF
        skip_bias = skip_bias + w.output_bias[i][channels:]
    alpha = 1.0 / math.sqrt(len(w.dilated))
    return StreamWeights(
        taps=taps,
        residual=residual,
        skip=skip,
        shifts=torch.stack(shifts),
        head_bias=torch.addmv(w.skip_bias, w.skip, skip_bias, alpha=alpha),
    )


def stack_forward_inference(
    w: StackWeights, stream: StreamWeights, x: torch.Tensor, emb: torch.Tensor
) -> torch.Tensor:
    """x (B, N, C_in), emb (B, S), all in the weights' dtype -> (B, N, C_out); no autograd.

    The step terms of every layer and item are one product; then each batch item runs on
    its own (2-D products on views of one padded buffer, see the module docstring).
    """
    layers, channels = len(w.dilated), w.input.shape[0]
    steps = torch.addmm(w.steps_bias, emb, w.steps.t()).view(-1, layers, channels)
    return torch.cat([_item_forward(w, stream, x[b], steps[b]) for b in range(x.shape[0])])


def _item_forward(
    w: StackWeights, stream: StreamWeights, x: torch.Tensor, steps: torch.Tensor
) -> torch.Tensor:
    """One item: x (N, C_in), steps (L, C), the layers' step terms -> (1, N, C_out)."""
    n, c_in = x.shape
    layers, channels = len(w.dilated), w.input.shape[0]
    margin = max(w.dilations)
    # The scaled residual stream g (n, C) lives between zero margins, so the dilated conv's
    # shifted inputs are row-offset views of one buffer: no copies, the padding for free.
    padded = torch.zeros(n + 2 * margin, channels, dtype=x.dtype, device=x.device)
    g = padded[margin : margin + n]
    torch.addmm(w.input_bias, x, w.input.t(), out=g).relu_()
    skip_sum = torch.zeros(n, channels, dtype=x.dtype, device=x.device)
    z = torch.empty(n, 2 * channels, dtype=x.dtype, device=x.device)  # reused by layers
    y = torch.empty(n, channels, dtype=x.dtype, device=x.device)
    for i, d in enumerate(w.dilations):
        # The constant c = step term + h's bias enters as a bias, less each tap's part on
        # the rows where that tap reads the zero padding.
        c = (steps[i] + stream.shifts[i]) * ROOT_TWO**i
        per_tap = torch.mv(stream.taps[i], c).view(3, 2 * channels)
        bias = w.dilated_bias[i] + per_tap.sum(0)
        tap = stream.taps[i].view(3, 2 * channels, channels)
        torch.addmm(bias, padded[margin - d : margin - d + n], tap[0].t(), out=z)
        torch.addmm(z, g, tap[1].t(), out=z)
        torch.addmm(z, padded[margin + d : margin + d + n], tap[2].t(), out=z)
        edge = min(d, n)
        z[:edge] -= per_tap[0]
        z[n - edge :] -= per_tap[2]
        gate, filt = z[:, :channels], z[:, channels:]
        if w.filter_doubled:  # z = [gate, 2·filter]: σ(g)·tanh(f) = 2·σ(g)·σ(2f) − σ(g)
            z.sigmoid_()
            torch.addcmul(gate, gate, filt, value=2.0, out=y).sub_(gate, alpha=2.0)
        else:
            torch.mul(gate.sigmoid_(), filt.tanh_(), out=y)
        torch.addmm(skip_sum, y, stream.skip[i].t(), out=skip_sum)
        if i + 1 < layers:  # the last layer's residual feeds nothing
            torch.addmm(g, y, stream.residual[i].t(), out=g)
    out = torch.addmm(stream.head_bias, skip_sum, w.skip.t(), alpha=1.0 / math.sqrt(layers))
    return torch.addmm(w.final_bias, out.relu_(), w.final.t()).view(1, n, -1)
