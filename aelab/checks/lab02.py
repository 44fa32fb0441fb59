"""Lab 02's self-checks (deep autoencoders), re-exported by :mod:`aelab.checks`.

:func:`mirrored_autoencoder`, :func:`squared_error_per_image`, :func:`precision_at_k`,
:func:`interpolate_codes`, :func:`nearest_distance`. What a check does on success, a wrong answer
or an unfinished exercise is described in :mod:`aelab.checks._machinery`; the notebooks call them as
``aelab.checks.<name>(...)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ._machinery import (_exercise, _fail, _finite, _forbidden, _gen, _global_rng, _praise, _shape, _student, _tensor,
                         _unchanged)
from ._shortcuts import imported_shortcut, package_targets

__all__ = ["mirrored_autoencoder", "squared_error_per_image", "precision_at_k", "interpolate_codes", "nearest_distance"]

#: The package's own answers to exercises 3, 4 and 5 (lecture 02 uses them; docs/architecture.md, "Lab
#: checks"): they raise while the student's function runs, under their names in ``aelab.metrics`` and
#: ``aelab.baselines``.
_PRECISION_SHORTCUTS = ("precision_at_k", "cosine_neighbors", "retrieval_precision", "retrieval_precision_per_query")
_LINE_SHORTCUTS = ("decoded_line",)
_DISTANCE_SHORTCUTS = ("nearest_distance", "path_distances")


def _linears(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def _chain(sizes: list[int]) -> str:
    return "→".join(map(str, sizes)) if sizes else "(none)"


def _layer_sizes(pairs: list[tuple[int, int]]) -> list[int]:
    return [pairs[0][0]] + [b for _, b in pairs] if pairs else []


def _is_affine(f: Callable, a: torch.Tensor, b: torch.Tensor) -> bool:
    zero = torch.zeros_like(a)
    return torch.allclose(f(a + b) + f(zero), f(a) + f(b), rtol=1e-3, atol=1e-4)


def _leaves(module: nn.Module) -> list[nn.Module]:
    """The modules of ``module`` that have no children, in registration (= nn.Sequential) order."""
    return [m for m in module.modules() if next(m.children(), None) is None]


def _after_last_linear(module: nn.Module) -> list[nn.Module]:
    """The leaf modules registered after ``module``'s last ``nn.Linear`` (what an nn.Sequential runs after it)."""
    leaves = _leaves(module)
    last = max(i for i, m in enumerate(leaves) if isinstance(m, nn.Linear))
    return leaves[last + 1:]


def _last_linear_output(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``module(x)`` and what its last ``nn.Linear`` computed during that call (None if it did not run)."""
    layer = [m for m in module.modules() if isinstance(m, nn.Linear)][-1]
    seen: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda mod, inputs, output: seen.append(output))
    try:
        out = module(x)
    finally:
        hook.remove()
    return out, (seen[-1] if seen else None)


#: What a nonlinearity on the code layer does to the code, by the module's class name.
_CODE_ACTIVATION_HINTS = {
    "ReLU": "A ReLU there sets every negative code value to 0 (about half of them): the code loses half "
            "of what it could say.",
    "Tanh": "A Tanh there squashes every code value into (−1, 1): large values saturate and stop telling "
            "images apart.",
    "Sigmoid": "A Sigmoid there squashes every code value into (0, 1): large values saturate and stop telling "
               "images apart.",
    "LeakyReLU": "A LeakyReLU there still bends the code (negative values shrink 100×): the code layer must "
                 "be linear, so only the HIDDEN layers get an activation.",
}
_CODE_ACTIVATION_BY_VALUE = {"ReLU": torch.relu, "Tanh": torch.tanh, "Sigmoid": torch.sigmoid,
                             "LeakyReLU": nn.functional.leaky_relu}


def _code_layer_hint(encoder: nn.Module, z: torch.Tensor, code: torch.Tensor | None) -> tuple[str, str]:
    """(what the encoder applies after its last Linear, the hint for it) for a code that is not linear."""
    after = [type(m).__name__ for m in _after_last_linear(encoder)
             if not isinstance(m, (nn.Identity, nn.Flatten, nn.Unflatten))]
    name = after[0] if after else None
    if name is None and code is not None:  # applied in a custom forward, e.g. torch.relu(...): find it by its values
        name = next((n for n, f in _CODE_ACTIVATION_BY_VALUE.items()
                     if torch.allclose(z.double(), f(code).double(), rtol=1e-5, atol=1e-6)), None)
    what = f"a {name}" if name else "something"
    return what, _CODE_ACTIVATION_HINTS.get(name, "Any nonlinearity there bends the code: put activations only "
                                                  "after the HIDDEN layers, none after the last Linear.")


@_exercise("02", 1, "build_autoencoder")
def mirrored_autoencoder(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``build_autoencoder(dims) -> (encoder, decoder)``: a deep AE with a mirrored decoder.

    Expected for ``dims = (d0, d1, ..., dc)``: ``encoder`` is an ``nn.Module`` mapping
    ``(N, d0)`` — or images ``(N, 1, 28, 28)`` when ``d0 = 784`` (start with ``nn.Flatten()``)
    — through Linear layers ``d0→d1→…→dc``, a nonlinearity after every hidden layer and a
    LINEAR code layer (Hinton & Salakhutdinov 2006: linear code units); ``decoder`` maps
    ``(N, dc)`` back through ``dc→…→d1→d0`` with hidden nonlinearities and a final
    ``nn.Sigmoid`` (pixels in [0, 1]) applied directly to its last Linear layer, output ``(N, d0)``.

    Inputs: ``(784, 256, 30)``, ``(20, 10, 5, 2)`` and ``(6, 3)`` (no hidden layer); 64 random
    inputs in [0, 1] per case and 64 codes ``3·N(0, 1)``. The student's function is called with
    torch's global RNG seeded from (lab, exercise, ``seed``), so the initial weights, and with
    them the verdict, never depend on the student's global RNG state; that state is restored
    afterwards.

    Properties checked, structurally (true whatever the initial weights): Linear layer sizes in
    order; output shapes; the code is exactly the output of the encoder's last Linear layer
    (hook on that layer; ``rtol=1e-5``); the decoder's output is exactly ``sigmoid`` of its last
    Linear layer's output (so a ``ReLU`` before the ``Sigmoid``, which keeps every pixel ≥ 0.5,
    is rejected); encoder and decoder are not affine when there are hidden layers (tested on
    ``f(a+b)+f(0) = f(a)+f(b)``, tolerance 1e-3); decoder outputs inside [0, 1].

    Parameters
    ----------
    student_fn : callable
        The student's ``build_autoencoder``.
    seed : int
        Draws other random inputs and initial weights (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        Naming the dims and the property that failed, with a hint for a nonlinearity on the code
        layer (ReLU, Tanh, Sigmoid, LeakyReLU or any other), a missing Sigmoid, a ReLU before
        the Sigmoid, a missing hidden nonlinearity, an unmirrored decoder or a missing Flatten.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    ValueError
        If ``seed`` is not a non-negative int.
    """
    ex = mirrored_autoencoder.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    cases = [(784, 256, 30), (20, 10, 5, 2), (6, 3)]
    n_params = 0
    # building layers draws the initial weights from torch's global RNG: seed it for this check (the
    # verdict must not depend on the student's RNG state) and leave it as it was
    with _global_rng(ex, seed):
        for dims in cases:
            label = f"dims={dims}"
            out = call(dims, case=label)
            if not isinstance(out, (tuple, list)) or len(out) != 2 or not all(isinstance(m, nn.Module) for m in out):
                raise _fail(ex, f"return two nn.Modules, `return encoder, decoder` (e.g. two nn.Sequential) — on {label}")
            encoder, decoder = out
            if dims == cases[0]:
                n_params = sum(p.numel() for m in (encoder, decoder) for p in m.parameters())
            want = list(dims)
            got_e, got_d = _layer_sizes(_linears(encoder)), _layer_sizes(_linears(decoder))
            if got_e != want:
                raise _fail(ex, f"the encoder's Linear layers should go {_chain(want)}, yours go {_chain(got_e)} — on "
                                f"{label}. One nn.Linear(dims[i], dims[i+1]) per consecutive pair.")
            if got_d != want[::-1]:
                raise _fail(ex, f"the decoder should mirror the encoder, {_chain(want[::-1])}; yours goes "
                                f"{_chain(got_d)} — on {label}.")
            n = 64
            shape = (n, 1, 28, 28) if dims[0] == 784 else (n, dims[0])
            x = torch.rand(shape, generator=g)
            with torch.no_grad():
                try:
                    z, code = _last_linear_output(encoder, x)
                except Exception as exc:
                    hint = " Start the encoder with nn.Flatten()." if len(shape) == 4 else ""
                    raise _fail(ex, f"the encoder failed on input of shape {shape} ({label}).{hint}") from exc
                z = _tensor(ex, z, "encoder output", label)
                _shape(ex, z, (n, dims[-1]), "the encoder's output (the code)", label)
                # the code is what the last Linear computes: anything after it changes the values, whatever
                # the initial weights (a test of the values' signs alone would depend on them)
                if code is None or not torch.allclose(z.double(), code.double(), rtol=1e-5, atol=1e-6):
                    what, hint = _code_layer_hint(encoder, z, code)
                    raise _fail(ex, f"the code layer should be linear: the code is the output of the encoder's last "
                                    f"Linear({dims[-2]}, {dims[-1]}) itself, but your encoder applies {what} after it "
                                    f"on {label}. {hint}")
                flat = (n, dims[0])
                if len(dims) > 2 and _is_affine(encoder, torch.rand(flat, generator=g).reshape(shape),
                                                torch.rand(flat, generator=g).reshape(shape)):
                    raise _fail(ex, f"the encoder is affine (no nonlinearity) on {label}: put an activation such as "
                                    "nn.ReLU() after every hidden Linear layer, or the deep AE is just a linear AE.")
                codes = 3 * torch.randn(n, dims[-1], generator=g)
                try:
                    y, logits = _last_linear_output(decoder, codes)
                except Exception as exc:
                    raise _fail(ex, f"the decoder failed on codes of shape {(n, dims[-1])} ({label}).") from exc
                y = _tensor(ex, y, "decoder output", label)
                _shape(ex, y, (n, dims[0]), "the decoder's output", label,
                       "The decoder returns flat vectors of dims[0] numbers (the lab reshapes them into images).")
                if (y < 0).any() or (y > 1).any():
                    raise _fail(ex, f"the decoder's outputs go from {y.min():.3g} to {y.max():.3g} on {label}; pixels "
                                    "live in [0, 1]: end the decoder with nn.Sigmoid().")
                if logits is None or not torch.allclose(y.double(), torch.sigmoid(logits.double()), rtol=1e-5,
                                                        atol=1e-6):
                    if y.min() >= 0.5:
                        raise _fail(ex, f"your decoder's outputs never go below 0.5 (smallest {y.min():.3g} on "
                                        f"{label}), so it can never draw a black pixel (0): something between its "
                                        "last Linear and the Sigmoid — a ReLU? — makes every input of the Sigmoid "
                                        "≥ 0, and sigmoid(≥ 0) ≥ 0.5. End the decoder with Linear → Sigmoid, "
                                        "nothing in between.")
                    raise _fail(ex, f"the decoder's output should be nn.Sigmoid() applied directly to its last "
                                    f"Linear({dims[1]}, {dims[0]})'s output; yours is something else on {label}. "
                                    "End the decoder with Linear → Sigmoid, nothing in between.")
                if len(dims) > 2:
                    def logit(c):
                        p = decoder(c).double().clamp(1e-7, 1 - 1e-7)
                        return torch.log(p) - torch.log1p(-p)
                    a, b = 0.3 * torch.randn(n, dims[-1], generator=g), 0.3 * torch.randn(n, dims[-1], generator=g)
                    if _is_affine(logit, a, b):
                        raise _fail(ex, f"the decoder has no hidden nonlinearity on {label}: put an activation after "
                                        "every Linear layer except the last (which gets the Sigmoid).")
    _praise(ex, f"mirrored, linear code, nonlinear hidden layers, sigmoid output; {cases[0]} has "
                f"{n_params:,} parameters", len(cases))


@_exercise("02", 2, "squared_error_per_image")
def squared_error_per_image(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``squared_error_per_image(x_hat, x) -> loss``: Hinton & Salakhutdinov's unit.

    Expected: ``x_hat`` and ``x`` of the same shape ``(N, ...)``; returns a 0-dim tensor, the
    sum of ``(x_hat − x)²`` over each image's pixels, averaged over the N images; it must be
    differentiable (``loss.backward()`` works).

    Inputs: images ``(16, 1, 28, 28)``, flat ``(8, 784)``, one image, ``x_hat == x``, and a
    2-image example small enough to do by hand. Tolerances: value ``rtol=1e-5, atol=1e-6``;
    the gradient w.r.t. ``x_hat`` within ``1e-5`` of ``2 (x_hat − x) / N``.

    Parameters
    ----------
    student_fn : callable
        The student's ``squared_error_per_image``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        On a wrong value (with a hint when it is off by the pixel count or the batch size),
        a non-scalar, or a result without gradient.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = squared_error_per_image.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    small_hat = torch.zeros(2, 1, 2, 2)
    small_hat[0, 0, 0, 0] = 0.5
    small_hat[1] = 1.0
    same = torch.rand(3, 1, 28, 28, generator=g)
    cases = [
        ("a batch of 16 images of shape (1, 28, 28)", torch.rand(16, 1, 28, 28, generator=g), torch.rand(16, 1, 28, 28, generator=g)),
        ("8 flat images of shape (784,)", torch.rand(8, 784, generator=g), torch.rand(8, 784, generator=g)),
        ("a single image (N=1)", torch.rand(1, 1, 28, 28, generator=g), torch.rand(1, 1, 28, 28, generator=g)),
        ("a perfect reconstruction (x_hat == x)", same.clone(), same.clone()),
        ("2 images of 2×2 pixels: x all 0; x_hat 0.5 in one pixel of image 0, all 1 in image 1",
         small_hat, torch.zeros(2, 1, 2, 2)),
    ]
    worst = 0.0
    for label, x_hat, x in cases:
        n, pixels = x.shape[0], x[0].numel()
        xh = x_hat.clone().requires_grad_(True)
        x_in = x.clone()
        out = call(xh, x_in, case=label)
        _unchanged(ex, x, x_in, "x", label)
        if isinstance(out, (float, int)):
            raise _fail(ex, "return a tensor, not a Python number, so that loss.backward() works (no .item()).")
        out = _tensor(ex, out, "the loss", label)
        if out.numel() != 1 or out.dim() != 0:
            raise _fail(ex, f"the loss should be a single number (a 0-dim tensor), yours has shape "
                            f"{tuple(out.shape)} on {label}. Sum over each image's pixels, then average over images.")
        ref = (x_hat.double() - x.double()).pow(2).flatten(1).sum(1).mean().item()
        val = out.item()
        if not math.isclose(val, ref, rel_tol=1e-5, abs_tol=1e-6):
            why = ""
            if ref > 0 and math.isclose(val * pixels, ref, rel_tol=1e-4):
                why = (f" Yours is {pixels}× too small: you averaged over the pixels too (as F.mse_loss does). "
                       "Sum over each image's pixels, average only over images.")
            elif ref > 0 and n > 1 and math.isclose(val, ref * n, rel_tol=1e-4):
                why = f" Yours is {n}× too big: you summed over the batch too. Average over the {n} images."
            elif ref > 0 and math.isclose(val**2, ref, rel_tol=1e-4):
                why = " You took a square root: this loss is the squared error, not a distance."
            raise _fail(ex, f"wrong value on {label} (the loss of this batch is not {val:.6g}).{why}")
        if not out.requires_grad:
            raise _fail(ex, f"your loss has no gradient on {label}: compute it with torch operations on x_hat "
                            "(no .item(), .detach() or numpy) so that loss.backward() works.")
        (grad,) = torch.autograd.grad(out, xh)
        if not torch.allclose(grad.double(), 2 * (x_hat.double() - x.double()) / n, atol=1e-5):
            raise _fail(ex, f"the gradient of your loss is wrong on {label}: the loss must depend on x_hat only "
                            "through the squared errors.")
        worst = max(worst, abs(val - ref) / max(ref, 1e-12))
    _praise(ex, f"values within {worst:.1e} (relative) of the squared error per image, gradients right", len(cases))


def _precision(labels: torch.Tensor, scores: torch.Tensor, k: int, *, largest: bool,
               leave_out_self: bool = True) -> float:
    """Precision@k for a score matrix: the mean fraction of same-label examples among each row's top ``k``.

    Parameters
    ----------
    labels : torch.Tensor
        int64, shape ``(N,)``.
    scores : torch.Tensor
        float, shape ``(N, N)``: similarities (``largest=True``) or distances (``largest=False``);
        not modified.
    k : int
        Neighbors per query, ``1 <= k <= N - 1`` when the query is left out.
    largest : bool
        Whether the neighbors are the largest scores (similarities) or the smallest (distances).
    leave_out_self : bool
        Whether the diagonal (each query with itself) is excluded.

    Returns
    -------
    float
        In [0, 1].
    """
    scores = scores.clone()
    if leave_out_self:
        scores.fill_diagonal_(-math.inf if largest else math.inf)
    idx = scores.topk(k, largest=largest).indices
    return (labels[idx] == labels[:, None]).double().mean().item()


@_exercise("02", 3, "precision_at_k")
def precision_at_k(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``precision_at_k(codes, labels, k) -> float``: retrieval precision by label, by cosine similarity.

    Expected: ``codes`` float ``(N, ...)`` (codes ``(N, c)`` or images ``(N, 1, 28, 28)``,
    flattened per example; no all-zero row), ``labels`` int64 ``(N,)``; for each example, its
    ``k`` most similar OTHER examples by cosine similarity of the flattened vectors,
    ``cos(a, b) = a·b / (‖a‖ ‖b‖)``; returns the fraction of them with the same label, averaged
    over all N examples (a float or 0-dim tensor in [0, 1]).

    Why cosine: lecture 02 ranks neighbors the same way, as Hinton & Salakhutdinov (2006) do
    for document retrieval with their codes; it compares directions and ignores lengths (an
    image's total ink, a code's scale), so the lab, the lecture and this check use one definition.

    Inputs: 3 labelled clusters in 2-D (k=5), random 8-D codes (k=1), every other example as a
    neighbor (k=N−1), images of shape (N, 1, 4, 4) (k=3), 40 vectors in 3-D whose label is their
    direction and whose lengths range from 0.1 to 10 (k=5; Euclidean distance and the plain dot
    product rank them differently), and 4 vectors at angles 0°, 10°, 25°, 70° with lengths 1, 4, 1,
    4 and labels [0, 1, 0, 1] (k=1; precision 0 by cosine, 0.5 by Euclidean distance, 1 when the
    query counts itself). Tolerance: ``1e-6`` (no ties in the inputs). The package's own
    ``precision_at_k``, ``cosine_neighbors`` and ``retrieval_precision`` (in :mod:`aelab.metrics` and
    under their old names in :mod:`aelab.baselines`) raise while the student's function runs, also
    when imported by name.

    Parameters
    ----------
    student_fn : callable
        The student's ``precision_at_k``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        On a wrong value (with a hint when the query counts itself, when neighbors are ranked by
        Euclidean distance, by the unnormalized dot product or by the LEAST similar), a
        non-scalar, or a call to the package's version.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = precision_at_k.exercise
    reason = ("Normalize the rows, one matrix product for the cosines, leave each query out, then topk: "
              "lecture 02 uses the package's version, the lab has you write it.")
    imported_shortcut(ex, student_fn, _PRECISION_SHORTCUTS, reason)
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    centres = torch.tensor([[3.0, 0.0], [-1.5, 2.6], [-1.5, -2.6]])
    lab3 = torch.arange(60) % 3
    clusters = centres[lab3] + 1.2 * torch.randn(60, 2, generator=g)
    rand_lab = torch.randint(0, 4, (30,), generator=g)
    lab_dir = torch.arange(40) % 2
    directions = torch.tensor([[1.0, 0.2, 0.0], [0.2, 1.0, 0.3]])[lab_dir] + 0.25 * torch.randn(40, 3, generator=g)
    lengths = 10 ** (2 * torch.rand(40, 1, generator=g) - 1)  # 0.1 to 10, log-uniform
    by_direction = directions / directions.norm(dim=1, keepdim=True) * lengths
    angles = torch.deg2rad(torch.tensor([0.0, 10.0, 25.0, 70.0]))
    four = torch.stack([angles.cos(), angles.sin()], 1) * torch.tensor([[1.0], [4.0], [1.0], [4.0]])
    cases = [
        ("60 points in 3 labelled clusters in 2-D, k=5", clusters, lab3, 5),
        ("30 random 8-D codes with 4 labels, k=1", torch.randn(30, 8, generator=g), rand_lab, 1),
        ("20 random 5-D codes, k=N-1=19 (every other example is a neighbor)", torch.randn(20, 5, generator=g),
         torch.randint(0, 3, (20,), generator=g), 19),
        ("25 'images' of shape (1, 4, 4) with 2 labels, k=3", torch.rand(25, 1, 4, 4, generator=g),
         torch.randint(0, 2, (25,), generator=g), 3),
        ("40 vectors in 3-D labelled by their direction, lengths from 0.1 to 10, k=5", by_direction, lab_dir, 5),
        ("4 vectors at angles 0°, 10°, 25°, 70° with lengths 1, 4, 1, 4 and labels [0, 1, 0, 1], k=1",
         four, torch.tensor([0, 1, 0, 1]), 1),
    ]
    # the mistakes with a hint of their own: each is named only if it explains the answers on EVERY input
    # (on one input two rankings can give the same fraction by chance)
    mistakes = [
        (" Each example is its own most similar one (cosine 1): leave the query itself out, e.g. by setting the "
         "diagonal of the similarity matrix to -infinity before taking the top k.",
         lambda flat, cosine, labels, k: _precision(labels, cosine, k, largest=True, leave_out_self=False)),
        (" You ranked neighbors by Euclidean distance; lecture 02 and this lab rank neighbors by cosine "
         "similarity, which compares directions and ignores lengths: normalize the rows to length 1 "
         "(flat / flat.norm(dim=1, keepdim=True)), then the similarities are the matrix product of the normalized "
         "rows with their transpose; take the k LARGEST of each row, leaving out the query itself.",
         lambda flat, cosine, labels, k: _precision(labels, torch.cdist(flat, flat), k, largest=False)),
        (" You ranked neighbors by the plain dot product, which favors long vectors: normalize the rows to "
         "length 1 first, so that the dot product is the cosine similarity.",
         lambda flat, cosine, labels, k: _precision(labels, flat @ flat.T, k, largest=True)),
        (" You took the k LEAST similar examples: the neighbors are the k LARGEST cosine similarities "
         "(topk(k, largest=True)), or equivalently the k smallest cosine distances 1 − cos.",
         lambda flat, cosine, labels, k: _precision(labels, cosine, k, largest=False)),
    ]
    answers = []  # (label, k, the student's value, the scores and labels each mistake needs)
    for label, codes, labels, k in cases:
        c_in, l_in = codes.clone(), labels.clone()
        with _forbidden(package_targets(_PRECISION_SHORTCUTS), reason):
            out = call(c_in, l_in, k, case=label)
        _unchanged(ex, codes, c_in, "codes", label)
        _unchanged(ex, labels, l_in, "labels", label)
        if isinstance(out, torch.Tensor):
            if out.numel() != 1:
                raise _fail(ex, f"return one number (the average over all queries), yours has shape "
                                f"{tuple(out.shape)} on {label}.")
            out = out.item()
        try:
            val = float(out)
        except (TypeError, ValueError):
            raise _fail(ex, f"return a number, got {type(out).__name__} on {label}") from None
        flat = codes.double().flatten(1)
        unit = flat / flat.norm(dim=1, keepdim=True)
        answers.append((label, k, val, (flat, unit @ unit.T, labels, k)))
    worst = 0.0
    for label, k, val, inputs in answers:
        ref = _precision(inputs[2], inputs[1], k, largest=True)
        if not math.isclose(val, ref, abs_tol=1e-6):
            why = next((hint for hint, mistake in mistakes
                        if all(math.isclose(v, mistake(*ins), abs_tol=1e-6) for _, _, v, ins in answers)), "")
            if not why and not 0 <= val <= 1:
                why = " A precision is a fraction between 0 and 1."
            raise _fail(ex, f"wrong precision@{k} on {label} (it is not {val:.4g}).{why}")
        worst = max(worst, abs(val - ref))
    _praise(ex, f"precision@k by cosine similarity within {worst:.1e} on every input, the query itself left out",
            len(cases))


@_exercise("02", 4, "interpolate_codes")
def interpolate_codes(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``interpolate_codes(z0, z1, steps) -> path``: a straight line between two codes.

    Expected: ``z0`` and ``z1`` float ``(c,)``; returns ``(steps, c)``: ``z0 + t (z1 − z0)``
    for ``steps`` equally spaced ``t`` from 0 to 1, both ends included (row 0 is ``z0``,
    the last row ``z1``).

    Inputs: 2-D codes with 5 steps (by hand), 30-D codes with 10 steps, ``steps=2`` (just the
    ends). Tolerance: ``atol=1e-5``. :func:`aelab.metrics.decoded_line` (which lecture 02 uses)
    raises while the student's function runs.

    Parameters
    ----------
    student_fn : callable
        The student's ``interpolate_codes``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        On a wrong shape, missing endpoint, uneven spacing or wrong values, or a call to the package's version.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = interpolate_codes.exercise
    reason = "Make the steps with torch.linspace and broadcast them against z1 − z0."
    imported_shortcut(ex, student_fn, _LINE_SHORTCUTS, reason)
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    cases = [
        ("z0=[0, 0], z1=[4, 8], steps=5", torch.tensor([0.0, 0.0]), torch.tensor([4.0, 8.0]), 5),
        ("two random 30-D codes, steps=10", torch.randn(30, generator=g), torch.randn(30, generator=g), 10),
        ("two random 3-D codes, steps=2", torch.randn(3, generator=g), torch.randn(3, generator=g), 2),
    ]
    worst = 0.0
    for label, z0, z1, steps in cases:
        a, b = z0.clone(), z1.clone()
        with _forbidden(package_targets(_LINE_SHORTCUTS), reason):
            path = _tensor(ex, call(a, b, steps, case=label), "the path", label)
        _unchanged(ex, z0, a, "z0", label)
        _unchanged(ex, z1, b, "z1", label)
        _shape(ex, path, (steps, z0.numel()), "the path", label, "One row per step, each a code.")
        p = path.double()
        if not torch.allclose(p[0], z0.double(), atol=1e-5):
            raise _fail(ex, f"the first row of the path should be z0 itself (t=0) on {label}.")
        if not torch.allclose(p[-1], z1.double(), atol=1e-5):
            raise _fail(ex, f"the last row of the path should be z1 itself (t=1): include both ends — on {label}. "
                            "torch.linspace(0, 1, steps) includes both.")
        t = torch.linspace(0, 1, steps, dtype=torch.float64)[:, None]
        ref = z0.double() + t * (z1.double() - z0.double())
        if not torch.allclose(p, ref, atol=1e-5):
            raise _fail(ex, f"the path is not evenly spaced on the straight line from z0 to z1 on {label}.")
        worst = max(worst, (p - ref).abs().max().item())
    _praise(ex, f"straight, evenly spaced paths with both ends, within {worst:.1e} of the line", len(cases))


@_exercise("02", 5, "nearest_distance")
def nearest_distance(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``nearest_distance(queries, data) -> distances``: how far points are from a data set.

    Expected: ``queries`` float ``(M, ...)`` and ``data`` ``(N, ...)`` with the same shape per
    example (codes or images; flatten them); returns ``(M,)``: the Euclidean distance from
    each query to its nearest row of ``data`` (not squared).

    Inputs: 5 random 16-D queries against 50 points, queries that are themselves data points
    (distance 0 — the expansion ``|a|² + |b|² − 2a·b`` can round below 0, so clamp before the
    square root), images ``(3, 1, 28, 28)`` against 200 images, and a 2-D example by hand.
    Tolerance: ``rtol=1e-4, atol=1e-2`` (float32 rounding of distances between images). The
    package's ``nearest_distance`` and ``path_distances`` (:mod:`aelab.metrics`, and
    ``aelab.baselines.nearest_distance``) raise while the student's function runs, also when
    imported by name.

    Parameters
    ----------
    student_fn : callable
        The student's ``nearest_distance``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        On a wrong shape, NaN, squared distances or wrong values, or a call to the package's version.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = nearest_distance.exercise
    reason = "Flatten both, torch.cdist, then the minimum over the data (dim=1)."
    imported_shortcut(ex, student_fn, _DISTANCE_SHORTCUTS, reason)
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    pts = torch.randn(50, 16, generator=g)
    imgs = torch.rand(200, 1, 28, 28, generator=g)
    cases = [
        ("5 random 16-D queries against 50 data points", torch.randn(5, 16, generator=g), pts),
        ("queries that are data points themselves (distance 0)", pts[[3, 17, 42]].clone(), pts),
        ("3 images of shape (1, 28, 28) against 200 images", torch.rand(3, 1, 28, 28, generator=g), imgs),
        ("query [[0, 0]] against data [[3, 4], [10, 0]]", torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0], [10.0, 0.0]])),
    ]
    worst = 0.0
    for label, q, data in cases:
        m = q.shape[0]
        q_in, d_in = q.clone(), data.clone()
        with _forbidden(package_targets(_DISTANCE_SHORTCUTS), reason):
            out = _tensor(ex, call(q_in, d_in, case=label), "the distances", label)
        _unchanged(ex, q, q_in, "queries", label)
        _unchanged(ex, data, d_in, "data", label)
        if out.numel() == data.shape[0] and m != data.shape[0]:
            raise _fail(ex, f"return one distance per QUERY, shape ({m},); yours has shape {tuple(out.shape)}, one per "
                            f"data point — on {label}. Take the minimum over the data (dim=1 of an (M, N) matrix).")
        _shape(ex, out, (m,), "the distances", label, "One distance per query.")
        _finite(ex, out, "your distances", label, "If you expand |a − b|² = |a|² + |b|² − 2a·b, rounding can make it "
                                                  "slightly negative: clamp it at 0 before the square root.")
        ref = torch.cdist(q.double().flatten(1), data.double().flatten(1)).min(1).values
        o = out.double()
        if not torch.allclose(o, ref, rtol=1e-4, atol=1e-2):
            why = ""
            if torch.allclose(o, ref**2, rtol=1e-4, atol=1e-2):
                why = " These are squared distances: take the square root."
            raise _fail(ex, f"wrong distances on {label} (max error {(o - ref).abs().max().item():.3g}).{why}")
        worst = max(worst, (o - ref).abs().max().item())
    _praise(ex, f"nearest-neighbor distances within {worst:.1e}, exact matches give 0", len(cases))
