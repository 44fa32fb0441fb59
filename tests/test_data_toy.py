"""aelab.data.toy and aelab.data.splits: the toy manifolds (seeded, private generator, checked
arguments) and the stratified validation split."""

import math

import numpy as np
import pytest
import torch

from aelab import data


def test_curved_manifold_seeded():
    a = data.curved_manifold(300, 0.05, seed=1)
    assert a.shape == (300, 2) and a.dtype == torch.float32
    assert torch.equal(a, data.curved_manifold(300, 0.05, seed=1))
    assert not torch.equal(a, data.curved_manifold(300, 0.05, seed=2))
    x, y = a[:, 0], a[:, 1]
    assert x.min() >= -1 and x.max() <= 1
    resid = y - x**2
    assert abs(resid.std().item() - 0.05) < 0.01 and abs(resid.mean().item()) < 0.02
    clean = data.curved_manifold(50, 0.0, seed=3)
    assert torch.allclose(clean[:, 1], clean[:, 0] ** 2)


def test_curved_manifold_does_not_touch_global_rng():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    data.curved_manifold(10, seed=5)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("kwargs, error", [({"n": 1}, ValueError), ({"n": 0}, ValueError), ({"n": 2.5}, TypeError),
                                           ({"n": 2.0}, TypeError), ({"n": True}, TypeError),
                                           ({"noise": -0.1}, ValueError), ({"noise": float("nan")}, ValueError),
                                           ({"noise": "a"}, TypeError), ({"seed": 1.5}, TypeError),
                                           ({"seed": -1}, ValueError)])
@pytest.mark.parametrize("make", [data.curved_manifold, data.circle_manifold])
def test_manifold_bad_args_follow_the_validation_rules(make, kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        make(**kwargs)


def test_manifold_numpy_scalars_are_accepted():
    a = data.circle_manifold(np.int64(50), np.float32(0.1), radius=np.float64(2.0), seed=np.int32(3))
    assert torch.equal(a, data.circle_manifold(50, float(np.float32(0.1)), radius=2.0, seed=3))
    assert data.curved_manifold(np.int64(7), seed=np.int64(1)).shape == (7, 2)


def test_circle_manifold():
    pts = data.circle_manifold(400, 0.0, radius=2.0, seed=1)
    assert pts.shape == (400, 2) and pts.dtype == torch.float32
    assert torch.allclose(pts.norm(dim=1), torch.full((400,), 2.0), atol=1e-5)
    assert torch.equal(pts, data.circle_manifold(400, 0.0, radius=2.0, seed=1))
    assert not torch.equal(pts, data.circle_manifold(400, 0.0, radius=2.0, seed=2))
    angles = torch.atan2(pts[:, 1], pts[:, 0])
    assert torch.histc(angles, bins=4, min=-math.pi, max=math.pi).min() > 70  # covers the whole circle
    noisy = data.circle_manifold(4000, 0.1, seed=0)
    assert abs((noisy.norm(dim=1) - 1).std().item() - 0.1) < 0.01
    for kwargs in ({"radius": 0.0}, {"radius": -1.0}):
        with pytest.raises(ValueError, match="radius"):
            data.circle_manifold(**kwargs)
    with pytest.raises(ValueError, match="finite"):
        data.circle_manifold(5, radius=float("inf"))


def test_train_val_split():
    x = torch.arange(200, dtype=torch.float32).reshape(200, 1)
    y = torch.arange(200) % 4
    (xt, yt), (xv, yv) = data.train_val_split(x, y, 40, seed=0)
    assert len(xt) == 160 and len(xv) == 40
    assert torch.bincount(yv).tolist() == [10] * 4  # stratified
    assert torch.equal(x[xt[:, 0].long(), 0], xt[:, 0]) and torch.equal(y[xt[:, 0].long()], yt)  # pairs kept
    assert set(xt[:, 0].tolist()).isdisjoint(xv[:, 0].tolist())
    assert sorted(xt[:, 0].tolist() + xv[:, 0].tolist()) == x[:, 0].tolist()
    (xt2, _), (xv2, _) = data.train_val_split(x, y, 40, seed=0)
    assert torch.equal(xv, xv2)
    (_, _), (xv3, _) = data.train_val_split(x, y, 40, seed=1)
    assert not torch.equal(xv, xv3)
    (_, _), (xv4, _) = data.train_val_split(x, y, np.int64(40), seed=np.int64(0))  # NumPy integers are fine
    assert torch.equal(xv, xv4)


@pytest.mark.parametrize("val_size, error", [(0, ValueError), (200, ValueError), (-5, ValueError),
                                             (40.0, TypeError), ("40", TypeError)])
def test_train_val_split_bad_size(val_size, error):
    x, y = torch.zeros(200, 1), torch.arange(200) % 4
    with pytest.raises(error, match="val_size"):
        data.train_val_split(x, y, val_size)


def test_train_val_split_length_mismatch_and_types():
    with pytest.raises(ValueError, match="differ in length"):
        data.train_val_split(torch.zeros(10, 1), torch.zeros(9, dtype=torch.int64), 2)
    with pytest.raises(TypeError, match="labels must be a torch.Tensor"):
        data.train_val_split(torch.zeros(10, 1), np.zeros(10), 2)
