"""Greedy layer-wise pretraining, taught in lecture 05 (``lectures/05_pretraining.ipynb``): freezing,
encoding a dataset through a frozen stack, training an RBM with contrastive divergence, greedy stacks,
unrolling and fine-tuning.

Bengio et al. (NeurIPS 2006) and Hinton & Salakhutdinov (Science 2006): train layer 1 on the
data, freeze it, encode the data, train layer 2 on those codes, and so on; then stack and
fine-tune everything with backpropagation. The RBM itself (energy, CD-k statistics) is
:class:`aelab.models.RBM`; autoencoder layers train with :func:`aelab.train.fit`.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

from . import _validation as check
from .runtime import device_of, keep_freed_memory

__all__ = ["freeze", "unfreeze", "trainable_parameters", "encode_dataset", "train_rbm", "train_autoencoder_stack",
           "train_rbm_stack", "unroll", "mlp_classifier", "classifier_from_encoders", "labeled_subset", "accuracy",
           "layer_gradient_norms"]


def _check_module(module, name: str) -> None:
    if not isinstance(module, nn.Module):
        raise TypeError(f"{name} expects a torch.nn.Module, got {type(module).__name__}")


def freeze(module: nn.Module) -> nn.Module:
    """Stop training ``module``: ``requires_grad=False`` on every parameter, and eval mode.

    Setting ``module.requires_grad = False`` does nothing to the parameters (it only adds an
    attribute); the flag lives on each parameter. An optimizer built before freezing still
    holds the parameters: build it from :func:`trainable_parameters` afterwards.

    Returns
    -------
    nn.Module
        ``module`` itself.

    Raises
    ------
    TypeError
        If ``module`` is not an ``nn.Module``.
    """
    _check_module(module, "freeze")
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


def unfreeze(module: nn.Module) -> nn.Module:
    """Undo :func:`freeze`: ``requires_grad=True`` on every parameter, and training mode."""
    _check_module(module, "unfreeze")
    for p in module.parameters():
        p.requires_grad_(True)
    return module.train()


def trainable_parameters(module: nn.Module) -> list[nn.Parameter]:
    """The parameters of ``module`` that require gradients (what an optimizer should get)."""
    _check_module(module, "trainable_parameters")
    return [p for p in module.parameters() if p.requires_grad]


@torch.no_grad()
def encode_dataset(encoder, data: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """Encode ``data`` through ``encoder`` in batches, with no gradients and in eval mode.

    The encoder's training/eval mode is restored afterwards (dropout must be off while
    encoding, and a frozen stack must not record an autograd graph of the whole dataset).

    Parameters
    ----------
    encoder : nn.Module or callable
        ``encoder(x) -> codes``; a module with an ``encode`` method is called through it.
    data : torch.Tensor, ``(N, ...)``
    batch_size : int
        Rows per batch, >= 1.

    Returns
    -------
    torch.Tensor
        ``(N, ...)`` codes on ``data``'s device, without ``grad_fn``.

    Raises
    ------
    TypeError
        If ``data`` is not a tensor, ``encoder`` is not callable or ``batch_size`` not an integer.
    ValueError
        If ``batch_size < 1``.
    """
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"encode_dataset expects a torch.Tensor of data, got {type(data).__name__}")
    batch_size = check.integer(batch_size, "batch_size", minimum=1)
    fn = getattr(encoder, "encode", encoder)
    if not callable(fn):
        raise TypeError(f"encoder must be callable, got {type(encoder).__name__}")
    module = encoder if isinstance(encoder, nn.Module) else None
    was_training = module.training if module is not None else False
    device = device_of(module) if module is not None and any(True for _ in module.parameters()) else data.device
    if module is not None:
        module.eval()
    try:
        out = [fn(data[i:i + batch_size].to(device)).to(data.device) for i in range(0, len(data), batch_size)]
    finally:
        if module is not None:
            module.train(was_training)
    return torch.cat(out) if out else data[:0]


def train_rbm(rbm, data: torch.Tensor, *, epochs: int, batch_size: int = 100, lr: float = 0.05, k: int = 1,
              seed: int = 0, progress: bool = True, desc: str = "RBM (CD)") -> list[float]:
    """Train an RBM with CD-k on mini-batches (Hinton & Salakhutdinov 2006; Hinton's guide 2010).

    Parameters
    ----------
    rbm : aelab.models.RBM
    data : torch.Tensor, ``(N, n_visible)``, values in [0, 1]
    epochs : int
        Passes over the data, >= 1.
    batch_size, lr, k : int, float, int
        Mini-batch size (>= 1), learning rate of ``θ ← θ + lr·Δθ`` (> 0), Gibbs steps (>= 1).
    seed : int
        Seeds the batch order and the Gibbs samples (the global RNG is left alone).
    progress : bool
        Show a tqdm bar over epochs.

    Returns
    -------
    list of float
        Per epoch, the mean squared reconstruction error per image of the Gibbs chain's last step.

    Raises
    ------
    TypeError
        If ``data`` is not a float tensor, or ``epochs``, ``batch_size``, ``k`` or ``seed`` is not an
        integer (NumPy integers are accepted; ``bool`` and ``2.0`` are not), ``lr`` not a number.
    ValueError
        On data that are not ``(N, n_visible)`` with N >= 1, ``epochs``/``batch_size``/``k`` < 1, ``lr``
        not finite and > 0, or as :meth:`aelab.models.RBM.cd_step`.
    aelab.train.TrainingDiverged
        If the reconstruction error or a weight becomes NaN or infinite (checked once per epoch,
        as :func:`aelab.train.fit` does): the error names the epoch and the learning rate.
    """
    from tqdm.auto import tqdm

    from .errors import TrainingDiverged

    epochs = check.integer(epochs, "train_rbm: epochs", minimum=1)
    batch_size = check.integer(batch_size, "train_rbm: batch_size", minimum=1)
    k = check.integer(k, "train_rbm: k", minimum=1)
    lr = check.real(lr, "train_rbm: lr", low=0.0, low_open=True)
    seed = check.seed(seed, "train_rbm: seed")
    progress = check.flag(progress, "train_rbm: progress")
    check.tensor(data, "train_rbm: data of shape (N, n_visible)", ndim=2)
    device = device_of(rbm)
    keep_freed_memory()  # as fit: freed batch memory is reused (aelab.runtime)
    g = torch.Generator(device=device).manual_seed(seed)
    order = torch.Generator().manual_seed(seed)
    errors = []
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        perm = torch.randperm(len(data), generator=order)
        total = 0.0
        for i in range(0, len(data), batch_size):
            batch = data[perm[i:i + batch_size]].to(device)
            total += rbm.cd_step(batch, lr=lr, k=k, generator=g) * len(batch)
        errors.append(total / len(data))
        weights_ok = all(bool(torch.isfinite(p).all()) for p in rbm.parameters())
        if not (math.isfinite(errors[-1]) and weights_ok):
            raise TrainingDiverged(f"train_rbm diverged in epoch {epoch + 1}: the reconstruction error is "
                                   f"{errors[-1]} and {'every weight is finite' if weights_ok else 'a weight is not'}"
                                   f"; lower the learning rate (lr={lr!r}).", epoch=epoch + 1, value=errors[-1])
        bar.set_postfix(error=f"{errors[-1]:.2f}")
    return errors


# --------------------------------------------------------------------------- greedy stacks


def _shallow_autoencoder(n_in: int, n_hidden: int, input_shape: tuple[int, ...]) -> nn.Module:
    """A fresh one-sigmoid-layer autoencoder: one stage of the greedy stack (a named builder for the zoo)."""
    from .models import ShallowAutoencoder

    return ShallowAutoencoder(n_in, n_hidden, input_shape=input_shape)


def _check_sizes_list(sizes, what: str) -> list[int]:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 1:
        raise ValueError(f"{what}: sizes must be a non-empty sequence of hidden-layer sizes, got {sizes!r}")
    return [check.integer(s, f"{what}: sizes[{i}]", minimum=1) for i, s in enumerate(sizes)]


def train_autoencoder_stack(data: torch.Tensor, sizes, *, epochs: int, corrupt=None, lr: float = 1e-3,
                            batch_size: int = 128, seed: int = 0, name: str | None = None,
                            progress: bool = True) -> tuple[list[nn.Module], list]:
    """Greedy layer-wise pretraining with one-layer (denoising) autoencoders (Bengio et al. 2006; Vincent et al. 2010).

    Stage 1 trains a :class:`aelab.models.ShallowAutoencoder` (sigmoid code) on ``data``; it is
    frozen, the data are encoded through it (:func:`encode_dataset`), and stage 2 trains on
    those codes, and so on. With ``corrupt``, every stage is a denoising autoencoder: it sees
    ``corrupt(input)`` and is scored against the clean input (its own input codes for stages
    >= 2, as in Vincent et al.'s stacked DAEs). Each stage minimizes the squared error per
    example with Adam, through :func:`aelab.zoo.fit_cached` when ``name`` is given.

    Parameters
    ----------
    data : torch.Tensor, ``(N, ...)``, values in [0, 1]
        The unlabeled training data (images ``(N, 1, 28, 28)`` or rows ``(N, d)``).
    sizes : sequence of int
        Hidden sizes of the stages, e.g. ``(256, 64)``.
    epochs : int
        Epochs per stage.
    corrupt : callable, optional
        ``corrupt(x) -> x_tilde`` (e.g. ``functools.partial(aelab.data.masking_noise, p=0.25)``).
    lr, batch_size, seed : float, int, int
        As :func:`aelab.train.fit` (stage ``i`` uses ``seed + i``).
    name : str, optional
        Cache prefix: stage ``i`` is cached as ``f"{name}_layer{i + 1}"``; None trains without the cache.
    progress : bool
        Show progress bars.

    Returns
    -------
    (layers, histories)
        The trained autoencoders, frozen (``requires_grad=False``, eval mode), and their
        :class:`aelab.train.History`.

    Raises
    ------
    TypeError
        If ``data`` is not a float tensor, a size or ``seed`` not an integer, or ``name`` not a string.
    ValueError
        On empty or non-positive ``sizes``, data that are not ``(N, C, H, W)`` or ``(N, d)`` with
        finite values in [0, 1], a ``name`` the filesystem would refuse, or as :func:`aelab.train.fit`.
    """
    from . import objectives, zoo

    sizes = _check_sizes_list(sizes, "train_autoencoder_stack")
    check.images(data, "train_autoencoder_stack: data", unit_range=True)
    seed = check.seed(seed)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"train_autoencoder_stack: name must be a string (a cache prefix) or None, got "
                        f"{type(name).__name__}")
    objective = objectives.denoising(corrupt) if corrupt is not None else None
    layers, histories, x = [], [], data
    for i, size in enumerate(sizes):
        shape = tuple(x.shape[1:])
        build = functools.partial(_shallow_autoencoder, math.prod(shape), size, shape)
        label = f"{name}_layer{i + 1}" if name is not None else f"stage {i + 1}"
        layer, history = zoo.fit_cached(label, build, x, cache=name is not None, epochs=epochs, objective=objective,
                                        lr=lr, batch_size=batch_size, seed=seed + i, progress=progress)
        freeze(layer)
        layers.append(layer)
        histories.append(history)
        if i < len(sizes) - 1:
            x = encode_dataset(layer, x)  # (N, size): the next stage's data
    return layers, histories


def train_rbm_stack(data: torch.Tensor, sizes, *, epochs: int, batch_size: int = 100, lr: float = 0.05, k: int = 1,
                    seed: int = 0, progress: bool = True) -> tuple[list, list[list[float]]]:
    """Greedy layer-wise pretraining with RBMs: a deep belief network (Hinton, Osindero & Teh 2006).

    RBM 1 learns ``data`` (flattened) with CD-k (:func:`train_rbm`); its hidden probabilities
    ``p(h | v)`` are the data of RBM 2 (Hinton & Salakhutdinov 2006 use the probabilities, not
    samples, as the next layer's input), and so on.

    Parameters
    ----------
    data : torch.Tensor, ``(N, ...)``, values in [0, 1]
    sizes : sequence of int
        Hidden sizes, e.g. ``(256, 64)``.
    epochs, batch_size, lr, k : int, int, float, int
        As :func:`train_rbm`, the same for every layer.
    seed : int
        RBM ``i`` is initialized and trained with ``seed + i``.
    progress : bool

    Returns
    -------
    (rbms, errors)
        The trained :class:`aelab.models.RBM` s (frozen) and each one's per-epoch
        reconstruction errors.

    Raises
    ------
    ValueError
        On bad ``sizes`` or as :func:`train_rbm`.
    """
    from .models import RBM

    sizes = _check_sizes_list(sizes, "train_rbm_stack")
    check.tensor(data, "train_rbm_stack: data")
    seed = check.seed(seed)
    x = data.flatten(1)
    rbms, errors = [], []
    for i, size in enumerate(sizes):
        rbm = RBM(x.shape[1], size, seed=seed + i)
        errors.append(train_rbm(rbm, x, epochs=epochs, batch_size=batch_size, lr=lr, k=k, seed=seed + i,
                                progress=progress, desc=f"RBM {i + 1} ({x.shape[1]}-{size}, CD-{k})"))
        freeze(rbm)
        rbms.append(rbm)
        if i < len(sizes) - 1:
            x = encode_dataset(rbm, x)
    return rbms, errors


def unroll(layers, *, input_shape=None) -> nn.Module:
    """Unroll pretrained RBMs or one-layer autoencoders into a deep autoencoder (Hinton & Salakhutdinov 2006).

    Shorthand for :meth:`aelab.models.StackedAutoencoder.from_layers`: encoder weights from the
    pieces in order, decoder weights (an RBM's ``Wᵀ``) in reverse order, all copied and trainable.
    """
    from .models.stacked import StackedAutoencoder

    return StackedAutoencoder.from_layers(layers, input_shape=input_shape)


def mlp_classifier(dims, n_classes: int = 10, *, activation: str = "sigmoid", init: str = "default",
                   seed: int = 0) -> nn.Sequential:
    """A fully connected classifier ``Flatten, [Linear, act] × (len(dims) − 1), Linear(dims[-1], n_classes)``.

    Outputs are logits ``(N, n_classes)`` (train with ``torch.nn.functional.cross_entropy``).

    Parameters
    ----------
    dims : sequence of int
        Input size then hidden sizes, e.g. ``(784, 256, 64)``.
    n_classes : int
    activation : str
        Hidden nonlinearity (``"sigmoid"``, ``"relu"``, ...).
    init : str
        As :func:`aelab.models.stacked.initialize` (``"default"``, ``"small"``, ``"glorot"``, ``"he"``).
    seed : int
        Seeds the initial weights (the global RNG is left alone).

    Raises
    ------
    ValueError, TypeError
        On bad sizes, activation or init scheme.
    """
    from .models.layers import check_sizes, make_activation
    from .models.stacked import initialize

    dims = check_sizes(dims, "dims", owner="mlp_classifier", min_len=1)
    n_classes = check_sizes((n_classes,), "n_classes", owner="mlp_classifier")[0]
    layers: list[nn.Module] = [nn.Flatten()]
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), make_activation(activation, owner="mlp_classifier")]
    layers.append(nn.Linear(dims[-1], n_classes))
    return initialize(nn.Sequential(*layers), init, seed=seed)


def classifier_from_encoders(layers, n_classes: int = 10, *, seed: int = 0) -> nn.Sequential:
    """The fine-tuning network: pretrained encoders stacked, plus a new output layer (Hinton et al. 2006).

    Each hidden layer gets a *copy* of its piece's encoder weights and biases (an RBM's ``W`` and
    hidden biases), so fine-tuning never changes the pretrained pieces, and the pieces can seed
    several classifiers (other label counts, other seeds). The output layer ``Linear(k, n_classes)``
    is new, drawn with ``seed`` (PyTorch's default scheme).

    Parameters
    ----------
    layers : sequence of RBM / ShallowAutoencoder / nn.Linear
        Pretrained pieces, input side first; sizes must chain.
    n_classes : int
    seed : int

    Returns
    -------
    nn.Sequential
        ``Flatten, Linear, Sigmoid, …, Linear(k, n_classes)`` producing logits; all trainable.

    Raises
    ------
    ValueError
        If ``layers`` is empty or sizes do not chain.
    TypeError
        For an unsupported piece.
    """
    from .models.stacked import layer_weights

    weights = [layer_weights(layer) for layer in layers]
    if not weights:
        raise ValueError("classifier_from_encoders needs at least one pretrained layer")
    dims = [weights[0][0].shape[1]]
    for i, (w, *_rest) in enumerate(weights):
        if w.shape[1] != dims[-1]:
            raise ValueError(f"layer {i} takes {w.shape[1]} inputs but layer {i - 1} has {dims[-1]} units")
        dims.append(w.shape[0])
    model = mlp_classifier(dims, n_classes, activation="sigmoid", init="default", seed=seed)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for lin, (w, b, _, _) in zip(linears, weights):
            lin.weight.copy_(w)
            lin.bias.copy_(b)
    return model


def labeled_subset(labels: torch.Tensor, n: int, *, seed: int = 0) -> torch.Tensor:
    """Indices of ``n`` labeled examples, the same number from each class (``n`` divisible by the class count).

    ``n == len(labels)`` returns every index (a permutation). The few-label experiment of
    lecture 05 pretrains on all images and fine-tunes on these.

    Parameters
    ----------
    labels : torch.Tensor, ``(N,)`` int64, values ``0 … C − 1``
    n : int
    seed : int

    Returns
    -------
    torch.Tensor
        ``(n,)`` int64 indices into ``labels``, shuffled.

    Raises
    ------
    TypeError
        If ``labels`` are not integers, or ``n`` or ``seed`` is not an integer.
    ValueError
        If ``n`` is not a multiple of the number of classes (unless it is all of them) or a class
        has fewer than ``n / C`` examples.
    """
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1:
        raise ValueError("labeled_subset expects labels of shape (N,)")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labeled_subset expects integer class labels, got dtype {labels.dtype}")
    n = check.integer(n, "labeled_subset: n", minimum=1)
    g = torch.Generator().manual_seed(check.seed(seed))
    if n == len(labels):
        return torch.randperm(len(labels), generator=g)
    classes = torch.unique(labels)
    if n < len(classes) or n % len(classes):
        raise ValueError(f"labeled_subset: n must be a positive multiple of the {len(classes)} classes "
                         f"(or all {len(labels)}), got {n!r}")
    per = n // len(classes)
    picks = []
    for c in classes:
        idx = (labels == c).nonzero().flatten()
        if len(idx) < per:
            raise ValueError(f"labeled_subset: class {int(c)} has only {len(idx)} examples, {per} needed")
        picks.append(idx[torch.randperm(len(idx), generator=g)[:per]])
    out = torch.cat(picks)
    return out[torch.randperm(len(out), generator=g)]


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 2000) -> float:
    """Fraction of ``images`` whose arg-max logit is the label, in eval mode (mode restored), no gradients.

    Parameters
    ----------
    model : nn.Module
        A classifier: ``model(x) -> (N, n_classes)`` logits (or probabilities).
    images : torch.Tensor, ``(N, ...)``
    labels : torch.Tensor, ``(N,)`` int64
    batch_size : int
        Rows per forward pass (memory only).

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    TypeError
        If ``model`` is an autoencoder (it has ``encode``), not a classifier.
    ValueError
        If the numbers of images and labels differ.
    """
    if hasattr(model, "encode"):
        raise TypeError("accuracy expects a classifier (logits out), not an autoencoder")
    logits = encode_dataset(model, images, batch_size=batch_size)
    if len(logits) != len(labels):
        raise ValueError(f"accuracy: {len(logits)} images but {len(labels)} labels")
    return float((logits.argmax(1).cpu() == labels.cpu()).float().mean())


def layer_gradient_norms(model: nn.Module, x: torch.Tensor, loss_fn=None) -> list[float]:
    """The gradient's Frobenius norm for the weight of every ``nn.Linear`` of ``model``, input side first.

    One forward and backward pass of ``loss_fn(model(x), x)`` (default: squared error per image,
    mean over the batch); the model's gradients are reset afterwards. Glorot & Bengio (2010)
    measure these to show the lower layers of deep sigmoid networks barely learning.

    Returns
    -------
    list of float
        One norm per linear layer, in the order of ``model.modules()``.
    
    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module`` or ``x`` not a tensor.
    ValueError
        If ``model`` has no ``nn.Linear`` layer.
    """
    from .losses import squared_error_per_image

    loss_fn = loss_fn or squared_error_per_image
    _check_module(model, "layer_gradient_norms")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"layer_gradient_norms expects a torch.Tensor x, got {type(x).__name__}")
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("layer_gradient_norms: the model has no nn.Linear layer to measure")
    model.zero_grad(set_to_none=True)
    loss_fn(model(x), x).backward()
    norms = [float(m.weight.grad.norm()) for m in linears]
    model.zero_grad(set_to_none=True)
    return norms
