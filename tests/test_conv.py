"""aelab.models.conv: shapes at 28×28 and 32×32 for every unpooling, gradients, switches, bad input."""

import pytest
import torch
import torch.nn.functional as F

from aelab import models
from aelab.models import ConvAEConfig, ConvAutoencoder
from aelab.models.conv import UPSAMPLING

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("mode", UPSAMPLING)
@pytest.mark.parametrize("size", [28, 32])
def test_shapes_for_both_sizes_and_every_mode(mode, size):
    torch.manual_seed(0)
    m = ConvAutoencoder(code_size=10, upsampling=mode, input_shape=(1, size, size))
    x = torch.rand(3, 1, size, size)
    z, (idx1, idx2) = m.encode_with_switches(x)
    assert z.shape == (3, 10) and z.dtype == torch.float32
    assert idx1.shape == (3, 16, size // 2, size // 2) and idx2.shape == (3, 32, size // 4, size // 4)
    out = m(x)
    assert out.shape == x.shape
    assert ((out >= 0) & (out <= 1)).all(), "the sigmoid output is a pixel value"
    assert models.code_size(m) == 10 and m.upsampling == mode
    # the encoder's stages have the lecture's shapes
    h = F.max_pool2d(torch.relu(m.conv1(x)), 2)
    assert h.shape == (3, 16, size // 2, size // 2)


def test_three_channels_and_a_config_object():
    cfg = ConvAEConfig(code_size=8, upsampling="repeat", input_shape=(3, 32, 32), channels=(4, 6), kernel_size=5)
    m = ConvAutoencoder(cfg)
    assert m.config is cfg and m.conv1.weight.shape == (4, 3, 5, 5)
    assert m(torch.rand(2, 3, 32, 32)).shape == (2, 3, 32, 32)
    assert ConvAutoencoder(cfg, code_size=4).code_size == 4  # keywords override the config


@pytest.mark.parametrize("mode", UPSAMPLING)
def test_gradient_reaches_every_parameter(mode):
    torch.manual_seed(0)
    m = ConvAutoencoder(code_size=6, upsampling=mode)
    x = torch.rand(4, 1, 28, 28)
    (m(x) - x).pow(2).sum().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_modes_differ_in_their_decoder_layers():
    kinds = {mode: [type(mod).__name__ for mod in ConvAutoencoder(upsampling=mode).modules()] for mode in UPSAMPLING}
    assert "MaxUnpool2d" in kinds["max_unpool"] and "MaxUnpool2d" not in kinds["repeat"]
    assert "RepeatUpsample" in kinds["repeat"] and "RepeatUpsample" not in kinds["transposed"]
    t = ConvAutoencoder(upsampling="transposed")
    assert t.up2.stride == (2, 2) and t.up2.output_padding == (1, 1)


def test_repeat_upsample_equals_nearest_neighbor_upsampling_and_its_gradient():
    from aelab.models.conv import RepeatUpsample

    x = torch.randn(2, 3, 5, 7, requires_grad=True)
    ref = torch.nn.Upsample(scale_factor=2, mode="nearest")(x)
    out = RepeatUpsample()(x)
    assert out.shape == (2, 3, 10, 14) and torch.equal(out, ref)
    w = torch.randn_like(ref)
    (g_out,) = torch.autograd.grad((out * w).sum(), x)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), x)
    assert torch.allclose(g_out, g_ref, atol=1e-6)


def test_max_unpool_puts_values_back_at_the_argmax():
    # 4×4 hand example: the maxima are at known places; unpooling puts them back there, zeros elsewhere
    x = torch.tensor([[1., 2., 0., 0.],
                      [4., 3., 0., 5.],
                      [0., 0., 7., 1.],
                      [6., 0., 1., 1.]]).reshape(1, 1, 4, 4)
    m = ConvAutoencoder(upsampling="max_unpool", input_shape=(1, 4, 4), channels=(1, 1))
    pooled, idx = m.pool(x)
    assert pooled.flatten().tolist() == [4., 5., 6., 7.]
    back = m.up1["unpool"](pooled, idx)
    expected = torch.zeros(4, 4)
    expected[1, 0], expected[1, 3], expected[3, 0], expected[2, 2] = 4., 5., 6., 7.
    assert torch.equal(back[0, 0], expected)


def test_max_unpool_decoder_uses_the_switches():
    torch.manual_seed(0)
    m = ConvAutoencoder(code_size=5, upsampling="max_unpool")
    x = torch.rand(2, 1, 28, 28)
    z, sw = m.encode_with_switches(x)
    assert torch.equal(m.decode(z, sw), m(x))
    other = m.encode_with_switches(x.flip(0))[1]
    assert not torch.allclose(m.decode(z, other), m(x)), "other switches must give another image"


def test_decoding_without_switches_is_a_clear_error():
    m = ConvAutoencoder(code_size=5, upsampling="max_unpool")
    z = torch.randn(2, 5)
    with pytest.raises(ValueError, match="needs the switches.*upsampling='repeat' or 'transposed'"):
        m.decode(z)
    sw = m.encode_with_switches(torch.rand(3, 1, 28, 28))[1]
    with pytest.raises(ValueError, match=r"idx1 must have shape \(2, 16, 14, 14\)"):
        m.decode(z, sw)
    with pytest.raises(TypeError, match="pair"):
        m.decode(z, sw[0])
    for mode in ("repeat", "transposed"):  # these generate from any code
        assert ConvAutoencoder(code_size=5, upsampling=mode).decode(z).shape == (2, 1, 28, 28)


@pytest.mark.parametrize("bad, error, match", [
    (torch.rand(2, 784), ValueError, r"reshape the input with x.reshape\(-1, 1, 28, 28\)"),
    (torch.rand(1, 28, 28), ValueError, r"x.unsqueeze\(0\)"),
    (torch.rand(2, 1, 32, 32), ValueError, r"expects shape \(N, 1, 28, 28\)"),
    (torch.rand(2, 1, 28, 28).double(), TypeError, r"x.float\(\)"),
    ((torch.rand(2, 1, 28, 28) * 255).to(torch.uint8), TypeError, "/ 255"),
    ([[0.0]], TypeError, "torch.Tensor"),
])
def test_bad_input_names_the_fix(bad, error, match):
    m = ConvAutoencoder(code_size=4)
    with pytest.raises(error, match=match):
        m(bad)


def test_bad_code_names_the_expected_shape():
    m = ConvAutoencoder(code_size=4, upsampling="repeat")
    with pytest.raises(ValueError, match=r"ConvAutoencoder.decode expects shape \(N, 4\)"):
        m.decode(torch.randn(2, 5))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"upsampling": "bilinear"}, ValueError, "upsampling must be one of"),
    ({"input_shape": (1, 30, 30)}, ValueError, "divisible by 4"),
    ({"input_shape": (28, 28)}, ValueError, r"\(C, H, W\)"),
    ({"kernel_size": 4}, ValueError, "odd"),
    ({"code_size": 0}, ValueError, "code_size"),
    ({"code_size": 2.0}, TypeError, "code_size"),
    ({"channels": (16,)}, ValueError, "channels"),
    ({"output_activation": "softmax"}, ValueError, "output_activation"),
    ({"code": 3}, TypeError, "unknown argument"),
])
def test_bad_hyper_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        ConvAutoencoder(**kwargs)


@pytest.mark.parametrize("mode", UPSAMPLING)
def test_channels_last_changes_the_layout_not_the_numbers(mode):
    torch.manual_seed(0)
    fast = ConvAutoencoder(code_size=6, upsampling=mode)
    torch.manual_seed(0)
    plain = ConvAutoencoder(code_size=6, upsampling=mode, channels_last=False)
    assert fast.conv2.weight.is_contiguous(memory_format=torch.channels_last)
    assert plain.conv2.weight.is_contiguous() and not plain.conv2.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.rand(3, 1, 28, 28)
    out_fast, out_plain = fast(x), plain(x)
    assert torch.allclose(out_fast, out_plain, atol=1e-5)
    (out_fast - x).pow(2).sum().backward()
    (out_plain - x).pow(2).sum().backward()
    for a, b in zip(fast.parameters(), plain.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-4, rtol=1e-3)
    with pytest.raises(TypeError, match="channels_last must be True or False"):
        ConvAutoencoder(channels_last="yes")


def test_same_seed_same_model_and_output():
    x = torch.rand(2, 1, 28, 28)
    torch.manual_seed(3)
    a = ConvAutoencoder(upsampling="transposed")
    torch.manual_seed(3)
    b = ConvAutoencoder(upsampling="transposed")
    assert torch.equal(a(x), b(x))


def test_library_flop_counter_counts_transposed_convolutions_by_their_input():
    # benchmarks/ measures conv training against the machine's peak with torch's FlopCounterMode: a
    # transposed convolution costs 2·C_in·H_in·W_in·C_out·k² FLOPs (each input spreads a kernel); the
    # hand-written hook charges every OUTPUT element a kernel and overcounts by stride² (here 4).
    from torch.utils.flop_counter import FlopCounterMode

    from benchmarks import throughput

    layer = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1, bias=False)
    x = torch.rand(1, 2, 7, 7)
    with FlopCounterMode(display=False) as counter:
        assert layer(x).shape == (1, 3, 14, 14)
    true_flops = 2 * (2 * 7 * 7) * 3 * 9
    assert counter.get_total_flops() == true_flops
    assert 2 * throughput.forward_macs(layer, (2, 7, 7)) == 4 * true_flops
    m = ConvAutoencoder(upsampling="transposed")
    before = [p.clone() for p in m.parameters()]
    assert throughput.library_train_flops_per_image(m) < 0.7 * throughput.train_flops_per_image(m)
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters())), "the count must not train the model"
    assert all(p.grad is None for p in m.parameters())


@pytest.mark.parametrize("which, position, why", [
    (0, 28 * 28, "outside the map"),        # torch: "invalid max index"
    (0, -1, "negative"),
    (1, 0, "another window"),               # a position in window (0, 0) stored for window (0, 1)
    (0, 2 * 28 + 1, "another window"),      # row 2 belongs to window row 1, not 0
])
def test_forged_switches_are_a_clear_error(which, position, why):
    """Issue 22.11: edited switches never reach torch's max_unpool2d ('invalid max index' or silent overwrites)."""
    torch.manual_seed(0)
    m = ConvAutoencoder(code_size=5, upsampling="max_unpool")
    z, switches = m.encode_with_switches(torch.rand(2, 1, 28, 28))
    forged = [s.clone() for s in switches]
    cell = (1, 2, 0, 1) if why == "another window" and which == 1 else (1, 2, 0, 0)
    forged[which][cell] = position
    name = f"idx{which + 1}"
    with pytest.raises(ValueError, match=rf"switches {name}: position -?\d+ at \(1, 2, 0, [01]\) is not inside its own "
                                         r"2×2 pooling window.*encode_with_switches returned, unchanged"):
        m.decode(z, forged)
    assert m.decode(z, switches).shape == (2, 1, 28, 28)  # the genuine ones still decode


def test_switches_of_other_images_are_accepted():
    """Any image's switches are genuine switches: the lecture decodes one image's code with another's."""
    torch.manual_seed(0)
    m = ConvAutoencoder(code_size=5, upsampling="max_unpool")
    z = m.encode(torch.rand(2, 1, 28, 28))
    other = m.encode_with_switches(torch.rand(2, 1, 28, 28))[1]
    assert torch.isfinite(m.decode(z, other)).all()


@pytest.mark.parametrize("mode", ["max_unpool", "repeat", "transposed"])
def test_chunked_forward_changes_speed_not_the_numbers(mode):
    """A batch larger than chunk_size runs in chunks (issue 26): same output and gradients up to float rounding."""
    torch.manual_seed(0)
    whole = ConvAutoencoder(code_size=8, upsampling=mode, chunk_size=None)
    chunked = ConvAutoencoder(code_size=8, upsampling=mode, chunk_size=3)
    chunked.load_state_dict(whole.state_dict())
    assert ConvAutoencoder().config.chunk_size is None  # the whole batch at once by default
    x = torch.rand(10, 1, 28, 28)  # chunks of 3, 3, 3, 1
    outs = []
    for m in (whole, chunked):
        out = m(x)
        ((out - x) ** 2).sum().backward()
        outs.append(out)
    assert outs[1].shape == x.shape
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-6)
    for (name, p), q in zip(whole.named_parameters(), chunked.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("value, error", [(0, ValueError), (2.0, TypeError), (True, TypeError)])
def test_bad_chunk_size(value, error):
    with pytest.raises(error, match="chunk_size"):
        ConvAutoencoder(chunk_size=value)
