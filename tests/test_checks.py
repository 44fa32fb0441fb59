"""aelab.checks: every check passes the reference answer and rejects plausible wrong answers.

The reference answers here are the ones in solutions/ (the notebooks are tested separately by
nbval); each wrong answer is a mistake students make, and the test asserts the hint names it.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from aelab import checks
from aelab.checks import CheckFailed, ExerciseNotDone
from aelab.models import LinearAutoencoder

# ------------------------------------------------------------------------------------------
# reference answers (as in solutions/)


def pca_svd(X, k):
    mean = X.mean(dim=0)
    _, _, Vh = torch.linalg.svd(X - mean, full_matrices=False)
    return mean, Vh[:k]


def encode(X, mean, W):
    return (X - mean) @ W.T


def decode(Z, mean, W):
    return Z @ W + mean


def principal_angles(A, B):
    Qa, _ = torch.linalg.qr(A)
    Qb, _ = torch.linalg.qr(B)
    cosines = torch.linalg.svdvals(Qa.T @ Qb).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cosines))


def train_linear_ae(X, k, *, epochs=20, batch_size=256, lr=1e-2, seed=0, zero_grad=True, step=True):
    torch.manual_seed(seed)
    model = LinearAutoencoder(X.shape[1], k)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        perm = torch.randperm(len(X), generator=g)
        total = 0.0
        for i in range(0, len(X), batch_size):
            xb = X[perm[i:i + batch_size]]
            loss = (model(xb) - xb).pow(2).sum(1).mean()
            if zero_grad:
                optimizer.zero_grad()
            loss.backward()
            if step:
                optimizer.step()
            total += loss.item() * len(xb)
        losses.append(total / len(X))
    return model, losses


def ae_to_pca(W, X):
    Q, _ = torch.linalg.qr(W)
    P = (X - X.mean(dim=0)) @ Q
    _, _, Vh = torch.linalg.svd(P, full_matrices=False)
    return Vh @ Q.T


def build_autoencoder(dims, *, code_activation=False, hidden_activation=True, sigmoid=True, mirror=True):
    enc = [nn.Flatten()]
    for i in range(len(dims) - 1):
        enc.append(nn.Linear(dims[i], dims[i + 1]))
        if (i < len(dims) - 2 and hidden_activation) or (i == len(dims) - 2 and code_activation):
            enc.append(nn.ReLU())
    rev = dims[::-1] if mirror else dims
    dec = []
    for i in range(len(rev) - 1):
        dec.append(nn.Linear(rev[i], rev[i + 1]))
        if i < len(rev) - 2:
            if hidden_activation:
                dec.append(nn.ReLU())
        elif sigmoid:
            dec.append(nn.Sigmoid())
    return nn.Sequential(*enc), nn.Sequential(*dec)


def squared_error_per_image(x_hat, x):
    return (x_hat - x).pow(2).flatten(1).sum(dim=1).mean()


def precision_at_k(codes, labels, k=10, *, include_self=False):
    flat = codes.flatten(1)
    d = torch.cdist(flat, flat)
    if not include_self:
        d.fill_diagonal_(float("inf"))
    idx = d.topk(k, largest=False).indices
    return (labels[idx] == labels[:, None]).float().mean().item()


def interpolate_codes(z0, z1, steps):
    t = torch.linspace(0, 1, steps)[:, None]
    return z0 + t * (z1 - z0)


def nearest_distance(queries, data):
    return torch.cdist(queries.flatten(1), data.flatten(1)).min(dim=1).values


REFERENCES = {
    "pca_svd": (pca_svd,),
    "tied_autoencoder": (encode, decode),
    "principal_angles": (principal_angles,),
    "train_linear_ae": (train_linear_ae,),
    "ae_to_pca": (ae_to_pca,),
    "mirrored_autoencoder": (build_autoencoder,),
    "squared_error_per_image": (squared_error_per_image,),
    "precision_at_k": (precision_at_k,),
    "interpolate_codes": (interpolate_codes,),
    "nearest_distance": (nearest_distance,),
}


def reject(check, *fns, match):
    with pytest.raises(CheckFailed, match=match) as info:
        check(*fns)
    assert not isinstance(info.value, ExerciseNotDone)
    return str(info.value)


# ------------------------------------------------------------------------------------------
# every check: the registry, the reference passes, NotImplementedError is friendly


def test_every_check_is_registered_and_tested():
    assert set(checks.EXERCISES) == set(REFERENCES)
    by_lab = {}
    for ex in checks.EXERCISES.values():
        by_lab.setdefault(ex.lab, []).append(ex.number)
    assert {lab: sorted(n) for lab, n in by_lab.items()} == {"01": [1, 2, 3, 4, 5], "02": [1, 2, 3, 4, 5]}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_reference_passes_with_one_line_of_praise(name, capsys):
    check = getattr(checks, name)
    assert check(*REFERENCES[name]) is None
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("✔ Exercise") and "passed" in out[0]


@pytest.mark.parametrize("name", ["pca_svd", "principal_angles", "precision_at_k", "nearest_distance"])
def test_reference_passes_on_other_seeds(name, capsys):
    getattr(checks, name)(*REFERENCES[name], seed=1)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_not_implemented_gives_the_friendly_message(name):
    def todo(*args, **kwargs):
        # YOUR CODE HERE
        raise NotImplementedError()

    fns = (todo,) * len(REFERENCES[name])
    with pytest.raises(ExerciseNotDone) as info:
        getattr(checks, name)(*fns)
    ex = checks.EXERCISES[name]
    msg = str(info.value)
    assert f"Exercise {ex.number} of lab {ex.lab}" in msg and "is not done yet" in msg
    assert "raise NotImplementedError()" in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__  # raised from None: short traceback
    assert isinstance(info.value, AssertionError)
    # in a notebook it renders as one line, no traceback through aelab
    assert info.value._render_traceback_() == [f"ExerciseNotDone: {msg}"]


def test_an_error_in_student_code_names_the_input_and_shows_only_student_frames():
    def broken(X, k):
        return X @ torch.ones(3, 3)  # wrong inner dimension

    with pytest.raises(CheckFailed, match=r"raised RuntimeError on data with N=200") as info:
        checks.pca_svd(broken)
    lines = "\n".join(info.value._render_traceback_())
    assert "broken" in lines and "RuntimeError" in lines and "aelab/checks.py" not in lines


def test_passing_a_result_instead_of_the_function():
    reject(checks.pca_svd, 3.0, match="pass your function itself")


def test_in_place_change_of_the_input_is_rejected():
    def in_place(X, k):
        mean = X.mean(dim=0)
        X -= mean
        _, _, Vh = torch.linalg.svd(X, full_matrices=False)
        return mean, Vh[:k]

    reject(checks.pca_svd, in_place, match="changed its input X in place")


def test_checks_never_print_the_reference(capsys):
    def off_by_one(X, k):  # one component too many
        return pca_svd(X, k + 1)

    msg = reject(checks.pca_svd, off_by_one, match=r"shape \(3, 10\)")
    assert "tensor(" not in msg and "[[" not in msg  # no reference values in the message
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------------------------------
# lab 01: wrong answers


def test_pca_svd_rejects_missing_centring():
    def no_centring(X, k):
        _, _, Vh = torch.linalg.svd(X, full_matrices=False)
        return X.mean(dim=0), Vh[:k]

    reject(checks.pca_svd, no_centring, match="UNcentred data")


def test_pca_svd_rejects_transposed_components():
    reject(checks.pca_svd, lambda X, k: (lambda m, c: (m, c.T))(*pca_svd(X, k)), match="one direction per ROW")


def test_pca_svd_rejects_smallest_components():
    def smallest(X, k):
        mean = X.mean(dim=0)
        _, _, Vh = torch.linalg.svd(X - mean, full_matrices=False)
        return mean, Vh[-k:]

    reject(checks.pca_svd, smallest, match="do not span the top-3 principal subspace")


def test_pca_svd_rejects_unnormalised_and_unsorted_components():
    def scaled(X, k):
        mean = X.mean(dim=0)
        _, S, Vh = torch.linalg.svd(X - mean, full_matrices=False)
        return mean, S[:k, None] * Vh[:k]

    reject(checks.pca_svd, scaled, match="not orthonormal")
    reject(checks.pca_svd, lambda X, k: (lambda m, c: (m, c.flip(0)))(*pca_svd(X, k)),
           match="not ordered by decreasing variance")


def test_pca_svd_rejects_wrong_mean_axis():
    reject(checks.pca_svd, lambda X, k: (X.mean(dim=1)[: X.shape[1]], pca_svd(X, k)[1]), match="mean")


def test_tied_autoencoder_rejects_forgotten_means():
    reject(checks.tied_autoencoder, lambda X, m, W: X @ W.T, decode, match="subtract the mean")
    reject(checks.tied_autoencoder, encode, lambda Z, m, W: Z @ W, match="add the mean back")


def test_tied_autoencoder_rejects_pseudo_inverse_encoder():
    def pinv_encode(X, mean, W):
        return (X - mean) @ torch.linalg.pinv(W)

    reject(checks.tied_autoencoder, pinv_encode, decode, match="encode gives wrong codes on N=4, D=7, k=3")


def test_principal_angles_rejects_radians_missing_qr_and_order():
    def radians(A, B):
        return torch.deg2rad(principal_angles(A, B))

    def no_qr(A, B):
        cos = torch.linalg.svdvals(A.T @ B).clamp(-1, 1)
        return torch.rad2deg(torch.acos(cos))

    def descending(A, B):
        return principal_angles(A, B).flip(0)

    reject(checks.principal_angles, radians, match="radians")
    reject(checks.principal_angles, no_qr, match="ORTHONORMAL bases")
    reject(checks.principal_angles, descending, match="ascending order")


def test_principal_angles_rejects_nan():
    def unclamped(A, B):
        out = principal_angles(A, B)
        return torch.where(out < 1e-3, torch.full_like(out, float("nan")), out)  # acos(1 + eps) = NaN

    reject(checks.principal_angles, unclamped, match="clamp the cosines")


def test_train_linear_ae_rejects_missing_step_and_wrong_loss_count():
    reject(checks.train_linear_ae, lambda X, k, **kw: train_linear_ae(X, k, **kw, step=False),
           match="did not go down")

    def last_batch_only(X, k, **kw):
        model, losses = train_linear_ae(X, k, **kw)
        return model, losses[-1:]

    reject(checks.train_linear_ae, last_batch_only, match="one loss per epoch")


def test_train_linear_ae_rejects_too_few_steps():
    def one_batch_per_epoch(X, k, *, epochs, batch_size, lr, seed):
        return train_linear_ae(X[:batch_size], k, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)

    reject(checks.train_linear_ae, one_batch_per_epoch, match="more than 5 % above PCA")


def test_ae_to_pca_rejects_qr_only_and_uncentred():
    def qr_only(W, X):
        Q, _ = torch.linalg.qr(W)
        return Q.T

    def uncentred(W, X):
        Q, _ = torch.linalg.qr(W)
        _, _, Vh = torch.linalg.svd(X @ Q, full_matrices=False)
        return Vh @ Q.T

    reject(checks.ae_to_pca, qr_only, match="not PCA's axes")
    reject(checks.ae_to_pca, uncentred, match="not PCA's axes")
    reject(checks.ae_to_pca, lambda W, X: W.T, match="not orthonormal")


# ------------------------------------------------------------------------------------------
# lab 02: wrong answers


def test_mirrored_autoencoder_rejects_common_mistakes():
    c = checks.mirrored_autoencoder
    reject(c, lambda d: build_autoencoder(d, code_activation=True), match="code layer should be linear")
    reject(c, lambda d: build_autoencoder(d, sigmoid=False), match="nn.Sigmoid")
    reject(c, lambda d: build_autoencoder(d, hidden_activation=False), match="affine")
    reject(c, lambda d: build_autoencoder(d, mirror=False), match="mirror the encoder")
    reject(c, lambda d: tuple(m[1:] if i == 0 else m for i, m in enumerate(build_autoencoder(d))),
           match="nn.Flatten")


def test_mirrored_autoencoder_leaves_torch_rng_alone(capsys):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.mirrored_autoencoder(build_autoencoder)
    assert torch.equal(torch.rand(3), expected)


def test_squared_error_rejects_mse_sum_item_and_sqrt():
    c = checks.squared_error_per_image
    reject(c, lambda xh, x: F.mse_loss(xh, x), match="averaged over the pixels")
    reject(c, lambda xh, x: (xh - x).pow(2).sum(), match="summed over the batch")
    reject(c, lambda xh, x: squared_error_per_image(xh, x).item(), match="not a Python number")
    reject(c, lambda xh, x: squared_error_per_image(xh, x).detach(), match="no gradient")
    reject(c, lambda xh, x: (xh - x).pow(2).flatten(1).sum(1), match="single number")
    reject(c, lambda xh, x: (xh - x).flatten(1).norm(dim=1).mean(), match="wrong value")


def test_precision_at_k_rejects_counting_the_query_itself():
    reject(checks.precision_at_k, lambda c, l, k: precision_at_k(c, l, k, include_self=True),
           match="its own nearest neighbour")


def test_precision_at_k_rejects_unflattened_images_and_per_query_results():
    def no_flatten(codes, labels, k=10):
        d = torch.cdist(codes, codes)  # batched over the image dims for (N, 1, 4, 4)
        return d.mean()

    def per_query(codes, labels, k=10):
        d = torch.cdist(codes.flatten(1), codes.flatten(1))
        d.fill_diagonal_(float("inf"))
        idx = d.topk(k, largest=False).indices
        return (labels[idx] == labels[:, None]).float().mean(1)

    reject(checks.precision_at_k, no_flatten, match="wrong precision")
    reject(checks.precision_at_k, per_query, match="return one number")


def test_interpolate_codes_rejects_missing_endpoint_and_off_by_one():
    def no_end(z0, z1, steps):
        t = torch.arange(steps)[:, None] / steps
        return z0 + t * (z1 - z0)

    def one_short(z0, z1, steps):
        return interpolate_codes(z0, z1, steps)[:-1]

    reject(checks.interpolate_codes, no_end, match="include both ends")
    reject(checks.interpolate_codes, one_short, match=r"shape \(5, 2\)")


def test_nearest_distance_rejects_squared_wrong_axis_and_nan():
    def squared(q, d):
        return nearest_distance(q, d) ** 2

    def wrong_axis(q, d):
        return torch.cdist(q.flatten(1), d.flatten(1)).min(dim=0).values

    def expansion_without_clamp(q, d):
        q, d = q.flatten(1), d.flatten(1)
        d2 = (q * q).sum(1, keepdim=True) + (d * d).sum(1) - 2 * q @ d.T
        d2 = torch.where(d2.abs() < 1e-9, torch.full_like(d2, -1e-7), d2)  # rounding below zero
        return d2.sqrt().min(dim=1).values  # NaN propagates through min

    reject(checks.nearest_distance, squared, match="squared distances")
    reject(checks.nearest_distance, wrong_axis, match="one per data point")
    reject(checks.nearest_distance, expansion_without_clamp, match="clamp it at 0")


def test_seed_must_be_a_non_negative_int():
    with pytest.raises(ValueError, match="seed"):
        checks.pca_svd(pca_svd, seed=-1)
