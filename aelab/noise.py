"""Corruptions for denoising autoencoders: Gaussian, masking and salt-and-pepper noise, and jitter.

Lecture 03 (the three corruptions of Vincent et al. 2010, the denoising autoencoder, its vector
field on the circle) and lab 03 use them; lecture 05 (stacked denoising autoencoders) uses
:func:`masking_noise` on codes; :func:`aelab.objectives.denoising` takes any of them. Every
function returns a new tensor (the input is never modified) and draws from ``generator`` when
one is given (the same generator state gives the same noise), else from torch's global
generator, which :func:`aelab.train.fit` seeds.

These names are also importable from :mod:`aelab.data`, where they lived before.
"""

from __future__ import annotations

import torch

from ._validation import choice, probability, real, tensor

__all__ = ["CORRUPTIONS", "add_noise", "gaussian_noise", "masking_noise", "salt_and_pepper", "jitter"]


def _check_generator(generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__} "
                        "(e.g. torch.Generator().manual_seed(0))")


def _pixels(x, generator) -> None:
    """``x``: a finite floating-point tensor of any shape with values in [0, 1]; ``generator`` checked."""
    tensor(x, "x", finite=True)
    _check_generator(generator)
    lo, hi = torch.aminmax(x.detach())
    if lo < 0 or hi > 1:
        raise ValueError(f"x must hold pixel values in [0, 1] (divide 0-255 images by 255), "
                         f"got values in [{float(lo):.4g}, {float(hi):.4g}]")


def gaussian_noise(x: torch.Tensor, std: float, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Additive isotropic Gaussian corruption, clipped to ``[0, 1]`` (Vincent et al. 2010, section 4.1).

    ``x_tilde = clip(x + std * eps, 0, 1)`` with ``eps ~ N(0, I)``.

    Parameters
    ----------
    x : torch.Tensor
        Float tensor of any shape (e.g. images ``(N, 1, 28, 28)``), values in ``[0, 1]``.
    std : float
        Standard deviation of the noise, in ``[0, 1]`` (pixel units).
    generator : torch.Generator, optional
        Source of the noise (same seed, same noise); default torch's global generator (which
        :func:`aelab.train.fit` seeds).

    Returns
    -------
    torch.Tensor
        A new tensor of the shape, dtype and device of ``x``, values in ``[0, 1]``.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor, ``std`` not a number or ``generator`` not a
        ``torch.Generator``.
    ValueError
        If ``std`` is outside ``[0, 1]`` (or NaN), ``x`` is empty, holds NaN/inf or values
        outside ``[0, 1]``.
    """
    _pixels(x, generator)
    std = probability(std, "std", allow_one=True)
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return (x + std * noise).clamp_(0.0, 1.0)


def masking_noise(x: torch.Tensor, p: float, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Masking corruption: each value independently set to 0 with probability ``p`` (Vincent et al. 2008).

    Vincent et al. (2010, section 4.1) force "a fraction ν of the elements of x (chosen at
    random for each example)" to 0, a fixed count per example. This function draws an
    independent Bernoulli(``p``) per value instead, so the number of zeroed values of an image
    of D values is Binomial(D, ``p``): ``p·D`` on average, not exactly. The two agree in
    expectation; the Bernoulli form needs no per-example sort and is what most code does.

    Parameters
    ----------
    x : torch.Tensor
        Float tensor of any shape; values in ``[0, 1]`` for images, where the result stays in
        ``[0, 1]`` (not enforced: zeroing also suits codes of a stacked denoising autoencoder,
        lecture 05).
    p : float
        Probability that a value is zeroed, in ``[0, 1]`` (a corrupted value that was already 0
        does not change).
    generator : torch.Generator, optional
        Source of the noise; default torch's global generator.

    Returns
    -------
    torch.Tensor
        A new tensor of the shape, dtype and device of ``x`` (``x`` is not modified).

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor, ``p`` not a number or ``generator`` not a
        ``torch.Generator``.
    ValueError
        If ``p`` is outside ``[0, 1]`` (or NaN), or ``x`` is empty.
    """
    tensor(x, "x")  # any values: zeroing also suits codes outside [0, 1] (stacked DAEs)
    _check_generator(generator)
    p = probability(p, "p", allow_one=True)
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return torch.where(u < p, torch.zeros_like(x), x)


def salt_and_pepper(x: torch.Tensor, p: float, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Salt-and-pepper corruption: each value independently, with probability ``p``, becomes 0 or 1 (a fair coin).

    Vincent et al. (2010, section 4.1) describe a fixed count: "a fraction ν of the elements of
    x (chosen at random for each example) is set to their minimum or maximum possible value
    (typically 0 or 1) according to a fair coin flip". **This function implements the
    independent-Bernoulli version**: each value is corrupted with probability ``p`` on its own,
    so an image of D values has Binomial(D, ``p``) corrupted values (``p·D`` on average, with
    standard deviation ``sqrt(D p (1 - p))``, about 13 values for D = 784 and p = 0.3), not
    exactly ``ν·D``. Each corrupted value is 0 or 1 with probability 1/2.

    Parameters
    ----------
    x : torch.Tensor
        Float tensor of any shape, values in ``[0, 1]``.
    p : float
        Probability that a value is corrupted, in ``[0, 1]``.
    generator : torch.Generator, optional
        Source of the noise; default torch's global generator.

    Returns
    -------
    torch.Tensor
        A new tensor of the shape, dtype and device of ``x``; every corrupted value is exactly 0 or 1.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor, ``p`` not a number or ``generator`` not a
        ``torch.Generator``.
    ValueError
        If ``p`` is outside ``[0, 1]`` (or NaN), ``x`` is empty, holds NaN/inf or values outside ``[0, 1]``.
    """
    _pixels(x, generator)
    p = probability(p, "p", allow_one=True)
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    salt = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) < 0.5
    return torch.where(u < p, salt.to(x.dtype), x)


#: The corruptions :func:`add_noise` dispatches to, by ``kind``.
CORRUPTIONS = {"gaussian": gaussian_noise, "masking": masking_noise, "salt_pepper": salt_and_pepper}


def add_noise(x: torch.Tensor, kind: str = "gaussian", level: float = 0.3, *,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Corrupt images for a denoising autoencoder (Vincent et al. 2008/2010).

    Dispatches to :func:`gaussian_noise`, :func:`masking_noise` or :func:`salt_and_pepper`
    (same draws for the same generator).

    Parameters
    ----------
    x : torch.Tensor
        float tensor, any shape, values in ``[0, 1]``.
    kind : {"gaussian", "masking", "salt_pepper"}
        Isotropic Gaussian noise (std ``level``, then clipped to [0, 1]); masking noise (each
        value set to 0 with probability ``level``); salt-and-pepper (each value set to 0 or 1
        at random with probability ``level``).
    level : float
        Noise std (gaussian) or corruption probability (masking, salt_pepper), in ``[0, 1]``.
    generator : torch.Generator, optional
        For reproducible noise.

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``x``, a new tensor.

    Raises
    ------
    TypeError
        If ``level`` is not a number (or as the corruption named).
    ValueError
        On an unknown ``kind`` or ``level`` outside ``[0, 1]``.
    """
    level = probability(level, "level", allow_one=True)
    return CORRUPTIONS[choice(kind, "kind", CORRUPTIONS)](x, level, generator=generator)


def jitter(x: torch.Tensor, std: float, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Additive isotropic Gaussian noise without clipping: the corruption of points that are not pixels.

    ``x + std · ε`` with ``ε ~ N(0, I)``: what a denoising autoencoder on the 2-D toy manifolds
    (:func:`aelab.data.circle_manifold`, :func:`aelab.data.curved_manifold`) is trained with in
    lecture 03 and lab 03, and the corruption for which Alain & Bengio (2014) show
    ``r(x) − x ≈ σ² ∇ₓ log p(x)``. Images use :func:`gaussian_noise`, which clips to [0, 1].

    Parameters
    ----------
    x : torch.Tensor
        Float tensor, any shape.
    std : float
        Noise standard deviation σ >= 0 (in the units of ``x``).
    generator : torch.Generator, optional
        For reproducible noise (default: torch's global generator, which ``fit`` seeds).

    Returns
    -------
    torch.Tensor
        A new tensor of the shape, dtype and device of ``x``.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor, ``std`` not a number or ``generator`` not a
        ``torch.Generator``.
    ValueError
        If ``std`` is negative or not finite, or ``x`` is empty.
    """
    tensor(x, "x")
    _check_generator(generator)
    std = real(std, "std", low=0.0)
    return x + std * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
