"""Training throughput: ``aelab.train.fit`` against the textbook loop, and against the machine's peak.

The textbook loop is the one in most tutorials: a torchvision dataset of PIL images,
``transforms.ToTensor()``, ``DataLoader(batch_size=128, shuffle=True)`` and a per-step
``loss.item()``. ``fit`` keeps the data as one in-memory tensor instead (see ``aelab/train.py``).
Both train the same freshly initialised model with the same optimizer (Adam, lr 1e-3) on the
same number of images in the same process, so their ratio does not depend on how busy the
machine is as much as each number alone.

FLOPs of a training step are counted by PyTorch's own ``torch.utils.flop_counter.FlopCounterMode``
on one real step (forward, loss, backward: :func:`library_train_flops_per_image`), for every model.
The hand-written hook (:func:`forward_macs`, 2 FLOPs per multiply-add of the forward and training
≈ 3 × forward) is kept for comparison: it is exact for linear layers but overcounts a transposed
convolution by about stride² (it charges every *output* element a full kernel, while a transposed
convolution's cost follows its *input*), and it charges the first layer an input gradient that
autograd never computes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

import aelab.train
from aelab.losses import multinomial_nll_per_document, range_checks, squared_error_per_image, vae_loss
from aelab.models import RBM, VAE, ConvAutoencoder, DocumentAutoencoder, MLPAutoencoder

IMAGE_SHAPE = (1, 28, 28)


# --------------------------------------------------------------------------- the two models
def deep_ae() -> nn.Module:
    """Hinton & Salakhutdinov's (2006) 784-1000-500-250-30 autoencoder (ReLU, sigmoid output)."""
    return MLPAutoencoder((784, 1000, 500, 250, 30), input_shape=IMAGE_SHAPE)


def classic_vae() -> nn.Module:
    """Kingma & Welling's (2014) 784-400-20 MLP VAE."""
    return VAE(784, 400, 20, input_shape=IMAGE_SHAPE)


def conv_ae() -> nn.Module:
    """Lecture 04's convolutional autoencoder (16 and 32 channels, code 32, max-unpool decoder)."""
    return ConvAutoencoder(code_size=32, upsampling="max_unpool", input_shape=IMAGE_SHAPE)


def conv_ae_transposed() -> nn.Module:
    """The same with stride-2 transposed convolutions in the decoder."""
    return ConvAutoencoder(code_size=32, upsampling="transposed", input_shape=IMAGE_SHAPE)


def conv_ae_repeat() -> nn.Module:
    """The same with nearest-neighbour (repeat) upsampling before stride-1 transposed convolutions."""
    return ConvAutoencoder(code_size=32, upsampling="repeat", input_shape=IMAGE_SHAPE)


def rbm_784_256() -> nn.Module:
    """Lecture 05's first RBM: 784 visible, 256 hidden units, trained with CD-1 by ``train_rbm``."""
    return RBM(784, 256, seed=0)


#: Lecture 06's vocabulary and document autoencoder (2,000 words, 250 hidden, code 10).
VOCABULARY = 2000


def doc_ae() -> nn.Module:
    """Lecture 06's document autoencoder ``2000-250-10`` (ReLU, softmax logits)."""
    return DocumentAutoencoder((VOCABULARY, 250, 10))


#: name -> (model factory, loss); the RBM's "loss" is ``None`` (CD-1 needs none: ``train_rbm``)
MODELS: dict[str, tuple[Callable[[], nn.Module], Callable | None]] = {
    "vae_784-400-20": (classic_vae, vae_loss),
    "ae_784-1000-500-250-30": (deep_ae, squared_error_per_image),
    "conv_ae_max_unpool_32": (conv_ae, squared_error_per_image),
    "conv_ae_transposed_32": (conv_ae_transposed, squared_error_per_image),
    "conv_ae_repeat_32": (conv_ae_repeat, squared_error_per_image),
    "rbm_784-256_cd1": (rbm_784_256, None),
    "doc_ae_2000-250-10": (doc_ae, multinomial_nll_per_document),
}

#: The batch size each family's lecture trains with (its % of peak is reported there).
LECTURE_BATCH = {"rbm_784-256_cd1": 100}

#: Families trained on lecture 06's documents rather than Fashion-MNIST images.
DOCUMENT_MODELS = frozenset({"doc_ae_2000-250-10"})


def synthetic_documents(n: int = 8192, vocabulary: int = VOCABULARY, words: float = 60.0,
                        seed: int = 0) -> torch.Tensor:
    """``(n, vocabulary)`` float32 word counts shaped like lecture 06's bag-of-words matrix.

    Each document draws Poisson(``words``) words from a Zipf-like (1/rank) distribution over the
    vocabulary, so a row is sparse (mostly zeros) with a few repeated words. The training cost of
    the dense document autoencoder does not depend on the values, only on the shape; the real
    20 Newsgroups matrix is not needed (nor its 2.7 GB) to time it.
    """
    g = torch.Generator().manual_seed(seed)
    p = 1.0 / torch.arange(1, vocabulary + 1, dtype=torch.float64)
    lengths = torch.poisson(torch.full((n,), float(words), dtype=torch.float64), generator=g).clamp(min=1).long()
    counts = torch.zeros(n, vocabulary)
    draws = torch.multinomial((p / p.sum()).float(), int(lengths.sum()), replacement=True, generator=g)
    rows = torch.repeat_interleave(torch.arange(n), lengths)
    counts.index_put_((rows, draws), torch.ones(len(draws)), accumulate=True)
    return counts


# --------------------------------------------------------------------------- FLOPs and peak
def forward_macs(model: nn.Module, input_shape: tuple[int, ...] = IMAGE_SHAPE) -> int:
    """Multiply-adds of the ``nn.Linear`` and ``nn.Conv*`` layers in one forward pass of one example.

    Counted with forward hooks on a single example, so a layer used twice counts twice and one
    that is skipped does not count. Biases, activations and losses are not counted.
    """
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Linear):
            total += output.numel() * module.in_features
        else:  # convolutions: each output element costs (in_channels / groups) * kernel volume MACs
            k = 1
            for s in module.kernel_size:
                k *= s
            total += output.numel() * (module.in_channels // module.groups) * k

    kinds = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            device = next(model.parameters()).device
            model(torch.rand(1, *input_shape, device=device))
        model.train(was_training)
    finally:
        for h in handles:
            h.remove()
    return total


def train_flops_per_image(model: nn.Module, input_shape: tuple[int, ...] = IMAGE_SHAPE) -> int:
    """Training FLOPs per image by the hand-written hook: 3 (forward + backward) × 2 FLOPs per multiply-add."""
    return 3 * 2 * forward_macs(model, input_shape)


def library_train_flops_per_image(model: nn.Module, loss: Callable = squared_error_per_image,
                                  input_shape: tuple[int, ...] = IMAGE_SHAPE, batch: int = 8) -> float:
    """FLOPs of one training step per image, counted by ``torch.utils.flop_counter.FlopCounterMode``.

    One forward, loss and backward pass on ``batch`` random images in [0, 1] (on a deep copy of
    ``model``, so its weights and gradients are untouched), divided by ``batch``. PyTorch counts
    2 FLOPs per multiply-add of matrix products and (transposed) convolutions, forward and
    backward, exactly as autograd runs them (no input gradient for the first layer).
    """
    import copy

    from torch.utils.flop_counter import FlopCounterMode

    m = copy.deepcopy(model).train()
    x = torch.rand(batch, *input_shape, generator=torch.Generator().manual_seed(0))
    if isinstance(m, RBM):  # one CD-1 update (no autograd: its five matrix products are the work)
        with FlopCounterMode(display=False) as counter:
            m.cd_step(x.flatten(1), lr=0.05, k=1, generator=torch.Generator().manual_seed(0))
        return counter.get_total_flops() / batch
    if isinstance(m, DocumentAutoencoder):  # word counts, not pixels
        x = x.flatten(1).mul(3).floor()
    with FlopCounterMode(display=False) as counter:
        value = loss(m(x), x)  # a scalar, or named parts such as VAELoss(total, recon, kl)
        total = getattr(value, "total", value[0] if isinstance(value, tuple) else value)
        total.backward()
    return counter.get_total_flops() / batch


def peak_matmul_flops(n: int = 2048, repeats: int = 10, rounds: int = 3, *,
                      clock: Callable[[], float] = time.perf_counter) -> float:
    """FLOP/s of an ``n × n`` float32 matrix product (``torch.mm``), best of ``rounds`` rounds.

    The best round is the peak the machine reaches right now; each round times ``repeats``
    products after one warm-up product. ``clock`` is ``time.perf_counter`` (wall) or
    ``time.process_time`` (CPU seconds: FLOP per CPU-second, meaningful with one thread).
    """
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    c = torch.mm(a, b)
    best = 0.0
    for _ in range(rounds):
        t = clock()
        for _ in range(repeats):
            torch.mm(a, b, out=c)
        best = max(best, 2 * n**3 * repeats / (clock() - t))
    return best


# --------------------------------------------------------------------------- the two loops
def textbook_images_per_second(model: nn.Module, dataset, n_images: int, *, loss: Callable,
                               batch_size: int = 128, lr: float = 1e-3, warmup_batches: int = 2,
                               seed: int = 0, clock: Callable[[], float] = time.perf_counter) -> float:
    """Images/s of the textbook loop over ``dataset`` (PIL images + ``ToTensor``) for ``n_images`` images.

    ``DataLoader(dataset, batch_size, shuffle=True)`` (``num_workers=0``, the default), Adam,
    ``loss.item()`` every step as tutorials do. The first ``warmup_batches`` are not timed.
    ``dataset`` may also be a ``TensorDataset`` of one tensor (documents). For an
    :class:`aelab.models.RBM` (``loss=None``) each step is ``rbm.cd_step(x.flatten(1), lr, k=1)``
    on the loader's batch (``lr`` then is CD's, e.g. 0.05) and returns the error as a float.
    """
    from torch.utils.data import DataLoader

    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=g)
    rbm = isinstance(model, RBM)
    opt = None if rbm else torch.optim.Adam(model.parameters(), lr=lr)
    cd_gen = torch.Generator().manual_seed(seed)
    model.train()
    seen, start, running = 0, None, 0.0
    while True:
        for step, batch in enumerate(loader):
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            if start is None and step == warmup_batches:
                start, seen = clock(), 0
            if rbm:
                running += model.cd_step(x.flatten(1), lr=lr, k=1, generator=cd_gen)
                seen += len(x)
                if start is not None and seen >= n_images:
                    return seen / (clock() - start)
                continue
            out = model(x)
            with range_checks(step == 0):  # fit's policy: value ranges checked on each pass's first batch
                total = aelab.train.as_parts(loss(out, x))[aelab.train.TOTAL]
            opt.zero_grad()
            total.backward()
            opt.step()
            running += total.item()
            seen += len(x)
            if start is not None and seen >= n_images:
                return seen / (clock() - start)
        if start is None:  # a tiny dataset: start the clock after the first pass
            start, seen = clock(), 0


def _trainer(model: nn.Module, images: torch.Tensor, *, loss: Callable | None, lr: float, batch_size: int | None,
             seed: int, **fit_kw) -> tuple[Callable, dict, torch.Tensor]:
    """``(train, keyword arguments, images)`` for one epoch call: ``fit``, or ``train_rbm`` for an RBM (flat images)."""
    bs = {} if batch_size is None else {"batch_size": batch_size}
    if isinstance(model, RBM):  # CD-1 through aelab.pretrain.train_rbm (lecture 05), same protocol
        from aelab.pretrain import train_rbm

        return train_rbm, dict(lr=lr, k=1, progress=False, seed=seed, **bs), images.flatten(1)
    return aelab.train.fit, dict(loss=loss, lr=lr, progress=False, seed=seed, **bs, **fit_kw), images


def paired_batch_ratios(factory: Callable[[], nn.Module], images: torch.Tensor, n_images: int, *,
                        loss: Callable | None, small: int = 128, large: int = 512, pairs: int = 12,
                        lr: float = 1e-3, seed: int = 0, chunks: int | None = None,
                        clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Per pair, one epoch's images/s at batch ``large`` over one epoch's at batch ``small``, ABBA-interleaved.

    Two models from ``factory`` (same seed) each train one warm-up epoch at their batch size, then
    ``pairs`` pairs of one-epoch runs on the same ``n_images`` images alternate the order
    (small-large, large-small, ...), so a slow spell of the machine falls on both sizes alike and
    a drift in speed cancels. Each epoch is timed on its own (one ``fit`` call, whose one-time
    costs — optimizer state, permutation buffer — are a few milliseconds against an epoch's
    seconds), so a ratio carries the noise of two runs, not of the differences of
    :func:`fit_images_per_second`. ``chunks`` runs a :class:`~aelab.models.ConvAutoencoder`'s
    large batch in chunks of that many images (``chunk_size=chunks``, issue 26's first fix).

    Returns ``pairs`` floats; ``> 1`` means the large batch trained faster in that pair.
    """
    import dataclasses

    subset = images[:n_images]
    runs = {}
    for bs in (small, large):
        torch.manual_seed(seed)
        model = factory()
        if chunks is not None and bs == large:
            model.config = dataclasses.replace(model.config, chunk_size=chunks)
        train, kw, data = _trainer(model, subset, loss=loss, lr=lr, batch_size=bs, seed=seed)
        train(model, data, epochs=1, **kw)  # warm-up epoch
        runs[bs] = (model, train, kw, data)

    def rate(bs: int) -> float:
        model, train, kw, data = runs[bs]
        start = clock()
        train(model, data, epochs=1, **kw)
        return len(data) / (clock() - start)

    ratios = []
    for i in range(pairs):
        if i % 2 == 0:
            a = rate(small)
            b = rate(large)
        else:
            b = rate(large)
            a = rate(small)
        ratios.append(b / a)
    return ratios


def median_interval(xs: list[float], level: float = 0.95, draws: int = 4000, seed: int = 0) -> tuple[float, float, float]:
    """``(median, low, high)``: the median of ``xs`` and its percentile-bootstrap ``level`` interval (seeded).

    Raises ValueError on an empty list.
    """
    import random

    if not xs:
        raise ValueError("median_interval: no values")
    rng = random.Random(seed)
    boots = sorted(_median(rng.choices(xs, k=len(xs))) for _ in range(draws))
    tail = (1 - level) / 2
    return _median(list(xs)), boots[int(tail * draws)], boots[min(draws - 1, int((1 - tail) * draws))]


def fit_images_per_second(model: nn.Module, images: torch.Tensor, n_images: int, *, loss: Callable,
                          batch_size: int | None = 128, lr: float = 1e-3, seed: int = 0,
                          clock: Callable[[], float] = time.perf_counter, **fit_kw) -> float:
    """Steady-state images/s of :func:`aelab.train.fit` (of :func:`aelab.pretrain.train_rbm` for an RBM).

    Like the textbook loop's timing (which skips its first batches), this leaves out what a
    ``fit`` call pays once: creating the optimizer state and the permutation buffer. Two copies
    of ``model`` train from the same weights on the first ``n_images`` images (at most all of
    them), one for one epoch and one for two; the second epoch's time is the difference (the
    first epochs are identical: same weights, same seed). A warm-up call on two batches comes
    first. ``batch_size=None`` uses ``fit``'s default. ``model`` itself is not trained.
    """
    import copy

    train, kw, images = _trainer(model, images, loss=loss, lr=lr, batch_size=batch_size, seed=seed, **fit_kw)
    warm = batch_size or 128
    train(copy.deepcopy(model), images[: 2 * warm], epochs=1, **kw)
    subset = images[:n_images]
    times = []
    for epochs in (1, 2):
        m = copy.deepcopy(model)
        start = clock()
        train(m, subset, epochs=epochs, **kw)
        times.append(clock() - start)
    if times[1] <= times[0]:  # only on a wildly disturbed machine: fall back to the plain rate
        return 2 * len(subset) / times[1]
    return len(subset) / (times[1] - times[0])


# --------------------------------------------------------------------------- one comparison
@dataclass(frozen=True)
class FitVariant:
    """One way of calling ``fit``: a batch size and an optimizer implementation."""

    label: str
    batch_size: int
    optimizer_impl: str | None = None  # None: fit's default (aelab.train.OPTIMIZER_IMPL)
    chunks: int | None = None  # a ConvAutoencoder with chunk_size=chunks (issue 26's first fix); None: as built


#: The convolutional autoencoders: 128 (lectures 04 and 09), 256, 512 (the whole batch at once, the
#: default), and 512 in chunks of 128 (``chunk_size=128``, issue 26's first fix, before the allocator's).
CONV_VARIANTS = (
    FitVariant("fit, batch 128", 128),
    FitVariant("fit, batch 256", 256),
    FitVariant("fit, batch 512", 512),
    FitVariant("fit, batch 512, in chunks of 128", 512, chunks=128),
)

#: CD-1 at lecture 05's batch size (100) and two larger ones; lr 0.05 as the lecture.
RBM_VARIANTS = (
    FitVariant("train_rbm, batch 100", 100),
    FitVariant("train_rbm, batch 128", 128),
    FitVariant("train_rbm, batch 512", 512),
)

#: fit at the textbook's batch size (the like-for-like comparison), the same with torch's
#: default (single-tensor) Adam (fit before the change), and two larger batch sizes.
DEFAULT_VARIANTS = (
    FitVariant("fit, batch 128", 128),
    FitVariant("fit, batch 128, torch's default Adam", 128, "single"),
    FitVariant("fit, batch 256", 256),
    FitVariant("fit, batch 512", 512),
)


@dataclass
class VariantResult:
    label: str
    batch_size: int
    optimizer_impl: str
    images_per_s: float  # best of the repeats
    speedup: float  # best images/s over the textbook loop's best
    fraction_of_peak: float  # best achieved FLOP/s over the best peak FLOP/s
    median_speedup: float  # median of the per-repeat (paired) ratios
    median_fraction_of_peak: float  # median of the per-repeat fractions
    runs: list[float]
    chunks: int | None = None


@dataclass
class ThroughputResult:
    """Best of the repeats, as ``timeit`` advises: other processes only ever slow a run down, so
    the fastest run is the closest to what the machine does undisturbed. The medians of the
    per-repeat (paired) ratios are kept beside them."""

    model: str
    params: int
    train_mflop_per_image: float
    textbook_images_per_s: float  # best of the repeats
    textbook_runs: list[float]
    peak_gflops: float  # best of the repeats
    peak_runs: list[float]
    variants: list[VariantResult]
    repeats: int
    n_images: int
    lr: float = 1e-3
    textbook_batch: int = 128
    #: :func:`paired_batch_ratios` at batch 512 over 128 (empty where the family has no such pair)
    batch_ratio_runs: list[float] = field(default_factory=list)
    #: the same with a conv model's batch 512 in chunks of 128 (``chunk_size=128``, issue 26's first fix)
    batch_ratio_chunked_runs: list[float] = field(default_factory=list)
    batch_ratio_images: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    def variant(self, label: str) -> VariantResult:
        return next(v for v in self.variants if v.label == label)


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def compare(name: str, factory: Callable[[], nn.Module], loss: Callable, images: torch.Tensor, dataset, *,
            n_images: int, repeats: int = 3, variants=DEFAULT_VARIANTS, peak_n: int = 2048, seed: int = 0,
            lr: float = 1e-3, textbook_batch: int = 128, batch_pairs: int = 12,
            clock: Callable[[], float] = time.perf_counter,
            log: Callable[[str], None] = lambda s: None) -> ThroughputResult:
    """Interleave the textbook loop, each ``fit`` variant and a peak matmul, ``repeats`` times.

    Every measurement trains a freshly initialised model (same seed) on ``n_images`` images.
    Reported: the best run of each (see :class:`ThroughputResult`) and, beside it, the median
    of the ratios taken within each repeat (measurements seconds apart). Where the variants
    include batches 128 and 512, :func:`paired_batch_ratios` then times ``batch_pairs`` ABBA
    pairs of single epochs (0 skips it), and for a conv family the same with the large batch
    in chunks (the variant with ``chunks``).
    """
    torch.manual_seed(seed)
    probe = factory()
    flops = library_train_flops_per_image(probe, loss, getattr(probe, "input_shape", IMAGE_SHAPE) or IMAGE_SHAPE)
    params = sum(p.numel() for p in probe.parameters())
    tb_runs, peaks = [], []
    runs: dict[str, list[float]] = {v.label: [] for v in variants}
    for r in range(repeats):
        torch.manual_seed(seed)
        tb_runs.append(textbook_images_per_second(factory(), dataset, n_images, loss=loss, seed=seed, clock=clock,
                                                 lr=lr, batch_size=textbook_batch))
        p1 = peak_matmul_flops(peak_n, clock=clock)
        for v in variants:
            torch.manual_seed(seed)
            old = aelab.train.OPTIMIZER_IMPL
            aelab.train.OPTIMIZER_IMPL = v.optimizer_impl or old
            try:
                model = factory()
                if v.chunks is not None:  # the config is frozen; forward reads config.chunk_size
                    import dataclasses

                    model.config = dataclasses.replace(model.config, chunk_size=v.chunks)
                runs[v.label].append(fit_images_per_second(model, images, n_images, loss=loss, lr=lr,
                                                           batch_size=v.batch_size, seed=seed, clock=clock))
            finally:
                aelab.train.OPTIMIZER_IMPL = old
        peaks.append(max(p1, peak_matmul_flops(peak_n, clock=clock)))
        log(f"  {name} {r + 1}/{repeats}: textbook {tb_runs[-1]:,.0f} img/s; "
            + "; ".join(f"{k} {v[-1]:,.0f}" for k, v in runs.items()) + f"; peak {peaks[-1] / 1e9:.0f} GFLOP/s")
    sizes = {v.batch_size for v in variants}
    ratio_runs, chunked_runs, ratio_images = [], [], 0
    if batch_pairs and {128, 512} <= sizes:
        ratio_images = min(n_images, len(images), 2048)
        log(f"  {name}: batch 512 vs 128, {batch_pairs} ABBA pairs of one-epoch runs on {ratio_images:,} images")
        ratio_runs = paired_batch_ratios(factory, images, ratio_images, loss=loss, pairs=batch_pairs, lr=lr,
                                         seed=seed, clock=clock)
        chunks = next((v.chunks for v in variants if v.chunks is not None), None)
        if chunks is not None:
            chunked_runs = paired_batch_ratios(factory, images, ratio_images, loss=loss, pairs=batch_pairs,
                                               lr=lr, seed=seed, clock=clock, chunks=chunks)
    results = [
        VariantResult(label=v.label, batch_size=v.batch_size,
                      optimizer_impl=v.optimizer_impl or aelab.train.OPTIMIZER_IMPL,
                      images_per_s=max(runs[v.label]),
                      speedup=max(runs[v.label]) / max(tb_runs),
                      fraction_of_peak=max(runs[v.label]) * flops / max(peaks),
                      median_speedup=_median([f / t for f, t in zip(runs[v.label], tb_runs)]),
                      median_fraction_of_peak=_median([f * flops / p for f, p in zip(runs[v.label], peaks)]),
                      runs=runs[v.label], chunks=v.chunks)
        for v in variants
    ]
    return ThroughputResult(model=name, params=params, train_mflop_per_image=flops / 1e6,
                            textbook_images_per_s=max(tb_runs), textbook_runs=tb_runs,
                            peak_gflops=max(peaks) / 1e9, peak_runs=[p / 1e9 for p in peaks], variants=results,
                            repeats=repeats, n_images=n_images, lr=lr, textbook_batch=textbook_batch,
                            batch_ratio_runs=ratio_runs, batch_ratio_chunked_runs=chunked_runs,
                            batch_ratio_images=ratio_images)


def family_setup(name: str, images: torch.Tensor, dataset) -> dict:
    """The keyword arguments of :func:`compare` for one family of :data:`MODELS`.

    Image families train on Fashion-MNIST (``images``, ``dataset``) with Adam lr 1e-3; the RBM
    with CD-1 at lr 0.05 and batch 100 (lecture 05); the document autoencoder on
    :func:`synthetic_documents` with Adam lr 3e-3 (lecture 06), its textbook loop a
    ``DataLoader`` over a ``TensorDataset`` of the same counts.
    """
    from torch.utils.data import TensorDataset

    if name.startswith("rbm"):
        return dict(images=images, dataset=dataset, lr=0.05, textbook_batch=LECTURE_BATCH.get(name, 100),
                    variants=RBM_VARIANTS)
    if name.startswith("conv_ae"):
        return dict(images=images, dataset=dataset, variants=CONV_VARIANTS)
    if name in DOCUMENT_MODELS:
        docs = synthetic_documents(min(len(images), 8192))  # 8,192 × 2,000 float32: 66 MB
        return dict(images=docs, dataset=TensorDataset(docs), lr=3e-3)
    return dict(images=images, dataset=dataset)


def textbook_dataset(root=None):
    """torchvision's FashionMNIST training set with ``transforms.ToTensor()`` (PIL images, the textbook way).

    The raw files are put in place by :func:`aelab.data.load_fashion_mnist` (offline from Debian's
    ``dataset-fashion-mnist``) first.
    """
    from torchvision import datasets, transforms

    from aelab.data import data_root, load_fashion_mnist

    images, _ = load_fashion_mnist("train", root=root)
    ds = datasets.FashionMNIST(root or data_root(), train=True, download=False, transform=transforms.ToTensor())
    return images, ds
