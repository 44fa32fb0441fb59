"""Toy manifolds in 2-D: points near a parabola and near a circle.

Lecture 01 uses :func:`curved_manifold` (a 1-D curve that a line, PCA, cannot follow but a
nonlinear autoencoder can); lecture 03 and lab 03 use :func:`circle_manifold` (the denoising
autoencoder's vector field points back to the circle) and :func:`curved_manifold` (contractive
tangents). Both draw from a private generator: the same seed gives the same points, and torch's
global random state is not touched.
"""

from __future__ import annotations

import math

import torch

from .._validation import integer, real, seed as check_seed

__all__ = ["curved_manifold", "circle_manifold"]


def curved_manifold(n: int = 500, noise: float = 0.05, *, seed: int = 0) -> torch.Tensor:
    """Points near the parabola ``y = x**2``: a curved 1-D manifold in 2-D.

    ``x`` is uniform on ``[-1, 1]`` and ``y = x**2 + eps`` with ``eps ~ N(0, noise**2)``.
    A 1-D PCA (a line) cannot follow the curve; a 1-D nonlinear autoencoder can.

    Parameters
    ----------
    n : int
        Number of points (>= 2).
    noise : float
        Standard deviation of the vertical noise (>= 0, finite).
    seed : int
        Seed of a private generator: same seed, same points.

    Returns
    -------
    torch.Tensor
        float32, shape ``(n, 2)``.

    Raises
    ------
    TypeError
        If ``n`` or ``seed`` is not an integer (``2.0`` included) or ``noise`` not a number.
    ValueError
        If ``n < 2``, ``noise`` is negative or not finite, or ``seed`` is negative.
    """
    n = integer(n, "n", minimum=2)
    noise = real(noise, "noise", low=0.0)
    g = torch.Generator().manual_seed(check_seed(seed))
    x = torch.rand(n, generator=g) * 2 - 1
    y = x**2 + noise * torch.randn(n, generator=g)
    return torch.stack([x, y], dim=1)


def circle_manifold(n: int = 500, noise: float = 0.0, *, radius: float = 1.0, seed: int = 0) -> torch.Tensor:
    """Points near a circle of radius ``radius`` around the origin: a closed 1-D manifold in 2-D.

    The angle is uniform on ``[0, 2π)``; the radius is ``radius + noise * eps``, ``eps ~ N(0, 1)``.
    The nearest point of the circle to ``p != 0`` is ``radius * p / |p|`` (lecture 03 uses it to
    test the direction of a denoising autoencoder's vector field).

    Parameters
    ----------
    n : int
        Number of points (>= 2).
    noise : float
        Standard deviation of the radial noise (>= 0, finite).
    radius : float
        Radius of the circle (> 0, finite).
    seed : int
        Seed of a private generator: same seed, same points (torch's global RNG is not touched).

    Returns
    -------
    torch.Tensor
        float32, shape ``(n, 2)``.

    Raises
    ------
    TypeError
        If ``n`` or ``seed`` is not an integer (``2.5`` included), or ``noise`` / ``radius`` not a number.
    ValueError
        If ``n < 2``, ``noise`` is negative or not finite, ``radius`` is not a finite number > 0,
        or ``seed`` is negative.
    """
    n = integer(n, "n", minimum=2)
    noise = real(noise, "noise", low=0.0)
    radius = real(radius, "radius", low=0.0, low_open=True)
    g = torch.Generator().manual_seed(check_seed(seed))
    angle = torch.rand(n, generator=g, dtype=torch.float64) * 2 * math.pi
    r = radius + noise * torch.randn(n, generator=g, dtype=torch.float64)
    return torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1).float()
