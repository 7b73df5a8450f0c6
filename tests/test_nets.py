"""DiffWave ε-network: shapes, zero-initialised output, fractional steps, receptive field."""

from __future__ import annotations

import pytest
import torch

from pianodiff.nets import DiffWave


def tiny(**kw) -> DiffWave:
    torch.manual_seed(0)
    return DiffWave(**{"residual_layers": 4, "residual_channels": 8, "dilation_cycle": 2, **kw})


def with_random_output(net: DiffWave) -> DiffWave:
    torch.nn.init.normal_(net.output_projection.weight)
    return net


def test_shapes_any_length():
    net = tiny()
    for length in (1, 37, 1000):
        out = net(torch.randn(3, length), torch.tensor([0.0, 5.0, 49.0]))
        assert out.shape == (3, length)


def test_untrained_net_predicts_zero():
    # DiffWave's zero-initialised output projection: ε̂ = 0 before any training.
    net = tiny()
    out = net(torch.randn(2, 200), torch.tensor([3.0, 40.0]))
    assert torch.count_nonzero(out) == 0


def test_fractional_steps_embed_continuously():
    net = with_random_output(tiny()).double()
    x = torch.randn(1, 300, dtype=torch.float64)

    def f(step: float) -> torch.Tensor:
        return net(x, torch.tensor([step], dtype=torch.float64))

    a, mid, b = f(10.0), f(10.5), f(11.0)
    # The sinusoid is evaluated at the step value itself: 10.5 is its own input.
    assert torch.isfinite(mid).all()
    assert not torch.equal(mid, a) and not torch.equal(mid, b)
    # Continuous: shrinking the offset shrinks the change (float32 embedding near 0.5).
    d = [(f(0.5 + h) - f(0.5)).norm().item() for h in (1e-4, 1e-6)]
    assert d[1] < d[0] and d[1] < 1e-2 * (b - a).norm().item()


@pytest.mark.parametrize("layers,cycle", [(4, 2), (6, 3), (5, 10)])
def test_receptive_field_matches_impulse_response(layers, cycle):
    net = with_random_output(tiny(residual_layers=layers, dilation_cycle=cycle)).double()
    expected = 1 + sum(2 * 2 ** (i % cycle) for i in range(layers))
    assert net.receptive_field == expected
    length = 2 * expected + 21
    x = torch.randn(1, length, dtype=torch.float64, requires_grad=True)
    centre = length // 2
    net(x, torch.tensor([7.0], dtype=torch.float64))[0, centre].backward()
    support = torch.nonzero(x.grad[0].abs() > 0).flatten()
    assert int(support.max() - support.min() + 1) == expected
    assert int(support.min()) == centre - (expected - 1) // 2


def test_named_sizes():
    from hydra.utils import instantiate

    from pianodiff.training.run import compose_train_config

    counts = {}
    for size in ("tiny", "small", "base", "large"):
        counts[size] = instantiate(compose_train_config([f"model={size}"]).model).num_parameters()
    assert counts["tiny"] < counts["small"] < counts["base"] < counts["large"]
    base = instantiate(compose_train_config(["model=base"]).model)
    # 30 layers with dilation cycle 10 see about ±0.14 s at 22.05 kHz.
    assert abs(base.receptive_field / 2 / 22050 - 0.139) < 0.005
