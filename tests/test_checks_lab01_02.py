"""Labs 01 and 02: the package's own answers (aelab.metrics, aelab.baselines) are refused while the student's
function runs, however they are reached, and the reference answers still pass under many seeds."""

import pytest
import torch

import aelab.baselines
import aelab.metrics
from aelab import baselines, checks, metrics
from aelab.checks import CheckFailed

from _solutions import solution  # tests/_solutions.py

SEEDS = range(6)


# --- lab 01, exercise 3: principal angles --------------------------------------------------------------

def angles_by_metrics(A, B):
    return metrics.principal_angles(A, B)


def angles_by_full_path(A, B):
    return aelab.metrics.principal_angles(A, B)


def test_principal_angles_refuses_the_package_version():
    for fn in (angles_by_metrics, angles_by_full_path):
        with pytest.raises(CheckFailed, match=r"calls aelab\.metrics\.principal_angles\. Orthonormalize"):
            checks.principal_angles(fn)
    assert metrics.principal_angles is aelab.metrics.__dict__["principal_angles"]   # restored after the check
    assert metrics.principal_angles(torch.eye(3)[:, :1], torch.eye(3)[:, :1]).item() == 0


def test_principal_angles_refuses_the_package_version_imported_by_name():
    namespace = {}
    exec("from aelab.metrics import principal_angles as pa\n"
         "def angles(A, B):\n    return pa(A, B)\n", namespace)
    with pytest.raises(CheckFailed, match=r"calls aelab\.metrics\.principal_angles"):
        checks.principal_angles(namespace["angles"])

    def outer():
        pa = metrics.principal_angles                      # a closure cell holding the package's function

        def angles(A, B):
            return pa(A, B)
        return angles
    with pytest.raises(CheckFailed, match=r"calls aelab\.metrics\.principal_angles"):
        checks.principal_angles(outer())


@pytest.mark.parametrize("seed", SEEDS)
def test_principal_angles_reference_passes(seed, capsys):
    checks.principal_angles(solution("principal_angles"), seed=seed)
    assert "passed" in capsys.readouterr().out


def test_principal_angles_by_hand_in_float64_and_with_numpy_scipy_passes(capsys):
    import numpy as np
    import scipy.linalg

    def by_scipy(A, B):                                    # a library outside aelab is not forbidden
        return torch.from_numpy(np.sort(np.rad2deg(scipy.linalg.subspace_angles(A.double().numpy(),
                                                                               B.double().numpy()))))
    checks.principal_angles(by_scipy)
    assert "passed" in capsys.readouterr().out


# --- lab 02, exercises 3-5 ----------------------------------------------------------------------------

def precision_by_metrics(codes, labels, k=10):
    return metrics.precision_at_k(codes, codes, labels, labels, k, exclude_self=True)


def precision_by_baselines(codes, labels, k=10):
    return baselines.precision_at_k(codes, codes, labels, labels, k, exclude_self=True)


def precision_by_neighbors(codes, labels, k=10):
    nearest = aelab.metrics.cosine_neighbors(codes, codes, k, exclude_self=True)
    return (labels[nearest] == labels[:, None]).float().mean().item()


def precision_by_retrieval(codes, labels, k=10):                  # leaves the query in: refused before that
    return float(baselines.retrieval_precision(codes.flatten(1), codes.flatten(1), labels, labels, [k])[0][0])


@pytest.mark.parametrize("fn, name", [(precision_by_metrics, "metrics.precision_at_k"),
                                      (precision_by_baselines, "baselines.precision_at_k"),
                                      (precision_by_neighbors, "metrics.cosine_neighbors"),
                                      (precision_by_retrieval, "baselines.retrieval_precision")])
def test_precision_at_k_refuses_the_package_version(fn, name):
    with pytest.raises(CheckFailed, match=rf"calls aelab\.{name}\. Normalize the rows"):
        checks.precision_at_k(fn)
    assert baselines.precision_at_k is metrics.precision_at_k          # restored (the same object, re-exported)


def distance_by_metrics(queries, data):
    return metrics.nearest_distance(queries, data)


def distance_by_baselines(queries, data):
    return baselines.nearest_distance(queries, data)


@pytest.mark.parametrize("fn, name", [(distance_by_metrics, "metrics.nearest_distance"),
                                      (distance_by_baselines, "baselines.nearest_distance")])
def test_nearest_distance_refuses_the_package_version(fn, name):
    with pytest.raises(CheckFailed, match=rf"calls aelab\.{name}\. Flatten both"):
        checks.nearest_distance(fn)
    assert metrics.nearest_distance(torch.zeros(1, 2), torch.ones(1, 2)).item() == pytest.approx(2 ** 0.5)


def test_nearest_distance_refuses_the_package_version_imported_by_name():
    namespace = {}
    exec("from aelab.baselines import nearest_distance as nd\n"
         "def nearest(queries, data):\n    return nd(queries, data)\n", namespace)
    with pytest.raises(CheckFailed, match=r"calls aelab\.(metrics|baselines)\.nearest_distance"):
        checks.nearest_distance(namespace["nearest"])


class _IdentityDecoder(torch.nn.Module):
    def decode(self, z):
        return z


def interpolate_by_decoded_line(z0, z1, steps):
    return metrics.decoded_line(_IdentityDecoder(), z0[None], z1[None], steps, codes=True)[0]


def test_interpolate_codes_refuses_decoded_line():
    with pytest.raises(CheckFailed, match=r"calls aelab\.metrics\.decoded_line\. Make the steps"):
        checks.interpolate_codes(interpolate_by_decoded_line)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("check, exercise", [(checks.precision_at_k, "precision_at_k"),
                                             (checks.interpolate_codes, "interpolate_codes"),
                                             (checks.nearest_distance, "nearest_distance")])
def test_lab02_references_pass(check, exercise, seed, capsys):
    check(solution(exercise), seed=seed)
    assert "passed" in capsys.readouterr().out


def test_a_student_function_named_like_the_package_one_is_not_refused(capsys):
    def nearest_distance(queries, data):               # the lab's own name, the student's own code
        return torch.cdist(queries.flatten(1).double(), data.flatten(1).double()).min(1).values
    namespace = {"nearest_distance": nearest_distance}
    exec("def wrapper(queries, data):\n    return nearest_distance(queries, data)\n", namespace)
    checks.nearest_distance(namespace["wrapper"])
    assert "passed" in capsys.readouterr().out
