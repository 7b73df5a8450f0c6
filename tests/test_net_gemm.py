"""The residual stacks as matrix products (``nets/gemm_stack.py``) compute what their
convolutions compute: outputs, gradients, bf16 autocast, the weight cache, the bundled net."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from torch.utils._python_dispatch import TorchDispatchMode

from pianodiff.checkpoint.export import load_export
from pianodiff.nets import DiffWave, MultiRateDiffWave
from pianodiff.training.run import compose_train_config

BUNDLED_CTX = Path(__file__).resolve().parents[1] / "checkpoints" / "piano14-ctx"
MATMULS = {"mm", "addmm", "addmm_", "bmm", "baddbmm", "convolution", "mkldnn_convolution"}


def _randomise(net: torch.nn.Module) -> torch.nn.Module:
    """Non-zero output layers and biases: a zero-initialised output makes ε̂ ≡ 0."""
    torch.manual_seed(0)
    for module in net.modules():
        if isinstance(module, (torch.nn.Conv1d, torch.nn.Linear)):
            torch.nn.init.normal_(module.weight, std=module.weight.shape[1] ** -0.5)
            if module.bias is not None:
                torch.nn.init.normal_(module.bias, std=0.1)
    return net.eval()


def _nets() -> dict[str, torch.nn.Module]:
    small = {"residual_layers": 5, "residual_channels": 16, "dilation_cycle": 3}
    return {
        "framed, context, fine, profile": MultiRateDiffWave(
            frame=4, **small, context=True, fine_layers=2, profile_bins=12
        ),
        "plain DiffWave": DiffWave(**small),
    }


def _inputs(net: torch.nn.Module, length: int = 1001) -> tuple[tuple, dict]:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, length, generator=gen)
    step = torch.tensor([3.0, 31.5])
    if not isinstance(net, MultiRateDiffWave):
        return (x, step), {}
    mask = torch.zeros_like(x)
    mask[:, : length // 3] = 1.0
    profile = torch.nn.functional.normalize(torch.rand(2, 12, generator=gen), dim=-1)
    known = torch.randn(2, length, generator=gen)
    return (x, step), {"known": known, "mask": mask, "profile": profile}


def _both(net: torch.nn.Module, *args, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """(matrix-product form, convolution form) of one forward."""
    net.conv_reference = False
    fast = net(*args, **kwargs)
    net.conv_reference = True
    ref = net(*args, **kwargs)
    net.conv_reference = False
    return fast, ref


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


@pytest.mark.parametrize("name", list(_nets()))
@pytest.mark.parametrize("length", [1001, 7])  # 7 samples: every dilation reaches past the edge
def test_matrix_products_equal_the_convolutions(name, length):
    net = _randomise(_nets()[name])
    args, kwargs = _inputs(net, length)
    with torch.no_grad():  # the inference path: cached weights, in-place accumulation
        fast, ref = _both(net, *args, **kwargs)
    assert fast.shape == ref.shape == (2, length)
    assert float(ref.abs().max()) > 0.1
    assert _rel(fast, ref) < 1e-5
    fast, ref = _both(net, *args, **kwargs)  # grad on: the differentiable path
    assert fast.requires_grad and _rel(fast.detach(), ref.detach()) < 1e-5


@pytest.mark.parametrize("name", list(_nets()))
def test_gradients_equal_the_convolutions(name):
    """Training and guidance differentiate through the matrix products."""
    net = _randomise(_nets()[name]).train()
    (x, step), kwargs = _inputs(net, 400)
    grads = []
    for reference in (False, True):
        net.conv_reference = reference
        net.zero_grad()
        xr = x.clone().requires_grad_(True)
        net(xr, step, **kwargs).square().mean().backward()
        grads.append([xr.grad] + [p.grad for p in net.parameters()])
    for fast, ref in zip(*grads):
        assert _rel(fast, ref) < 1e-5


class _MatmulDtypes(TorchDispatchMode):
    """Records (op name, input dtypes, output shape) of every matrix product."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, tuple, tuple]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        if name in MATMULS:
            dtypes = tuple(a.dtype for a in args if isinstance(a, torch.Tensor))
            self.calls.append((name, dtypes, tuple(out.shape)))
        return out


@pytest.mark.parametrize("name", list(_nets()))
def test_bf16_autocast_runs_every_product_in_bf16(name):
    net = _randomise(_nets()[name])
    net.requires_grad_(False)
    args, kwargs = _inputs(net)
    with torch.no_grad():
        fp32 = net(*args, **kwargs)
        with torch.autocast("cpu", dtype=torch.bfloat16), _MatmulDtypes() as seen:
            bf16 = net(*args, **kwargs)
    assert bf16.dtype == torch.bfloat16
    assert seen.calls and not [c for c in seen.calls if c[0] in ("convolution", "bmm")]
    assert all(set(dtypes) == {torch.bfloat16} for _, dtypes, _ in seen.calls), seen.calls
    assert _rel(bf16, fp32) < 0.05


def test_step_projections_are_one_product_per_forward():
    net = _randomise(_nets()["plain DiffWave"])
    args, _ = _inputs(net)
    layers, channels = net.residual_layers, net.residual_channels
    with torch.no_grad(), _MatmulDtypes() as seen:
        net(*args)
    widths = [shape[-1] for _, _, shape in seen.calls]
    assert widths.count(layers * channels) == 1  # all layers' step terms at once
    batch = args[0].shape[0]
    per_item = 1 + 5 * layers - 1 + 2  # in; 3 taps + skip + residual per layer; head
    assert len(seen.calls) == 2 + 1 + batch * per_item  # MLP, steps, then each item


def test_changed_weights_are_seen_through_the_cache():
    net = _randomise(_nets()["framed, context, fine, profile"])
    net.requires_grad_(False)
    args, kwargs = _inputs(net)
    with torch.no_grad():
        before, _ = _both(net, *args, **kwargs)
        net.framed.blocks[2].dilated_conv.weight.mul_(-1.0)  # in place: same storage
        after, ref = _both(net, *args, **kwargs)
        net.load_state_dict({k: v * 0.5 for k, v in net.state_dict().items()})
        loaded, loaded_ref = _both(net, *args, **kwargs)
    assert _rel(after, before) > 1e-2
    assert _rel(after, ref) < 1e-5 and _rel(loaded, loaded_ref) < 1e-5


def test_shipped_model_config_builds_the_same_state_dict_keys():
    """model=framed16_ctx through Hydra: the parameters are the convolutions' own."""
    net = instantiate(compose_train_config(["model=framed16_ctx"]).model).net
    keys = set(net.state_dict())
    assert "framed.blocks.19.dilated_conv.weight" in keys
    assert net.framed.blocks[0].dilated_conv.weight.shape == (256, 128, 3)
    assert not [k for k in keys if "gemm" in k]


@pytest.mark.skipif(not BUNDLED_CTX.exists(), reason="bundled piano14-ctx not present")
def test_bundled_model_loads_unchanged_and_agrees_with_its_convolutions():
    net = load_export(BUNDLED_CTX).net
    gen = torch.Generator().manual_seed(0)
    x = 0.1 * torch.randn(1, 22050 // 2, generator=gen)
    known = 0.1 * torch.randn(1, 22050 // 2, generator=gen)
    mask = (torch.arange(x.shape[-1]) < 4000).float()[None]
    with torch.no_grad():
        fast, ref = _both(net, x, torch.tensor([20.0]), known=known, mask=mask)
    assert float(ref.abs().max()) > 0.01 and _rel(fast, ref) < 1e-5


def test_floor_rows_divide_each_forward_by_the_gemm_time_of_its_flops():
    from benchmarks.forward import GEMM_N, _floor_rows

    gemm_s = 2 * GEMM_N**3 / 100e9  # a 100 GFLOP/s host
    times = {"gemm/fp32": gemm_s, "conv/fp32": 0.6, "matmul/fp32": 0.4}
    res = {
        "source": "test",
        "flops": 20e9,  # floor: 0.2 s
        "median": times,
        "best": {k: v / 2 for k, v in times.items()},
        "rel_error": {"conv/fp32": 0.0, "matmul/fp32": 1e-7},
        "rel_error_same_precision": {"fp32": 1e-7},
    }
    rows = {r["name"].split("/", 2)[-1]: r for r in _floor_rows(1, res)}
    assert rows["fp32/matmul path against its GEMM floor"]["ratio"] == pytest.approx(2.0)
    assert rows["fp32/conv path against its GEMM floor"]["best_ratio"] == pytest.approx(3.0)
    assert rows["fp32/matmul path vs conv path"]["ratio"] == pytest.approx(1.5)
    assert not [name for name in rows if name.startswith("bf16")]  # bf16 not measured
