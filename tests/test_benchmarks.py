"""Smoke test of benchmarks/ with tiny sizes: the functions run and return the documented structure.

No timing is asserted (other processes share the CPU); ``python -m benchmarks`` measures.
"""

import json
import math

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from torchvision import datasets, transforms  # noqa: E402

from aelab.losses import squared_error_per_image, vae_loss  # noqa: E402
from aelab.models import RBM, VAE, DocumentAutoencoder, MLPAutoencoder  # noqa: E402
from benchmarks import build_time, latency, run, throughput  # noqa: E402

IMG = (1, 28, 28)


def tiny_ae():
    return MLPAutoencoder((784, 16, 4), input_shape=IMG)


@pytest.fixture(scope="module")
def fake_data():
    """A torchvision dataset of PIL images with ToTensor (the textbook path) and the same as one tensor."""
    ds = datasets.FakeData(size=64, image_size=IMG, num_classes=10, transform=transforms.ToTensor(), random_offset=0)
    images = torch.stack([ds[i][0] for i in range(len(ds))])
    return images, ds


def test_flop_count_of_the_deep_autoencoder():
    macs = throughput.forward_macs(throughput.deep_ae())
    assert macs == 2 * (784 * 1000 + 1000 * 500 + 500 * 250 + 250 * 30)
    assert throughput.train_flops_per_image(throughput.deep_ae()) == 6 * macs
    vae = throughput.classic_vae()
    assert throughput.forward_macs(vae) == 784 * 400 + 2 * 400 * 20 + 20 * 400 + 400 * 784


def test_conv_macs_are_counted():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(4 * 784, 2))
    assert throughput.forward_macs(net) == 4 * 784 * 9 + 4 * 784 * 2


def test_compare_structure(fake_data):
    images, ds = fake_data
    variants = (throughput.FitVariant("fit, batch 16", 16), throughput.FitVariant("default Adam", 16, "single"))
    logs = []
    res = throughput.compare("tiny", tiny_ae, squared_error_per_image, images, ds, n_images=32, repeats=2,
                             variants=variants, peak_n=64, log=logs.append)
    d = res.as_dict()
    assert d["model"] == "tiny" and d["repeats"] == 2 and len(d["textbook_runs"]) == 2
    assert [v["label"] for v in d["variants"]] == ["fit, batch 16", "default Adam"]
    for v in d["variants"]:
        assert v["images_per_s"] > 0 and v["speedup"] > 0 and 0 < v["fraction_of_peak"] and len(v["runs"]) == 2
    assert d["variants"][1]["optimizer_impl"] == "single"
    assert len(logs) == 2
    json.dumps(d)  # serialisable


def test_textbook_and_fit_loops_run_a_vae(fake_data):
    images, ds = fake_data
    vae = VAE(784, 8, 2, input_shape=IMG)
    # both loops accept a VAE (a tuple output and vae_loss) and give a finite rate
    for rate in (throughput.textbook_images_per_second(vae, ds, 32, loss=vae_loss, batch_size=8),
                 throughput.fit_images_per_second(vae, images, 48, loss=vae_loss, batch_size=8)):
        assert math.isfinite(rate) and rate > 0


def test_latency_structure():
    res = latency.decoder_latency("tiny-vae", VAE(784, 8, 2, input_shape=IMG), calls=3)
    assert res.calls == 3 and 0 < res.decode_ms and 0 < res.frame_ms <= res.frame_p95_ms * 1.0001


def test_build_time_without_notebooks(tmp_path):
    res = build_time.run_build(tmp_path, quick=True, timeout=120)
    assert res["mode"] == "quick" and res["notebooks"] == [] and res["returncode"] != 0 and res["seconds"] > 0


def test_targets_and_table():
    tp = [{"model": "ae_784-1000-500-250-30", "params": 1, "train_mflop_per_image": 17.0, "textbook_images_per_s": 100.0,
           "textbook_runs": [100.0], "peak_gflops": 100.0, "repeats": 1, "n_images": 10,
           "variants": [{"label": "fit, batch 128", "batch_size": 128, "optimizer_impl": "fused",
                         "images_per_s": 400.0, "speedup": 4.0, "fraction_of_peak": 0.4, "runs": [400.0]},
                        {"label": "fit, batch 512", "batch_size": 512, "optimizer_impl": "fused",
                         "images_per_s": 380.0, "speedup": 3.8, "fraction_of_peak": 0.38, "runs": [380.0]}]},
          {"model": "conv_ae_max_unpool_32", "params": 1, "train_mflop_per_image": 1.0, "textbook_images_per_s": 100.0,
           "textbook_runs": [100.0, 90.0], "peak_gflops": 100.0, "repeats": 2, "n_images": 10,
           "variants": [{"label": "fit, batch 128", "batch_size": 128, "optimizer_impl": "fused",
                         "images_per_s": 200.0, "speedup": 2.0, "fraction_of_peak": 0.1, "runs": [200.0, 150.0]},
                        {"label": "fit, batch 512", "batch_size": 512, "optimizer_impl": "fused",
                         "images_per_s": 210.0, "speedup": 2.1, "fraction_of_peak": 0.1, "runs": [210.0, 160.0]}]}]
    lat = [{"model": "m", "decode_ms": 1.0, "frame_ms": 10.0, "frame_p95_ms": 12.0, "calls": 3}]
    builds = [{"mode": "quick", "zoo": False, "seconds": 100.0, "returncode": 0, "stderr_tail": "",
               "notebooks": [{"path": "lectures/01.ipynb", "status": "ok", "seconds": 50.0}]},
              {"mode": "full", "zoo": False, "seconds": 400.0, "returncode": 0, "stderr_tail": "",
               "notebooks": [{"path": "lectures/01.ipynb", "status": "ok", "seconds": 400.0}]}]
    t = run.targets(tp, lat, builds)
    met = {x["target"]: x["met"] for x in t}
    assert met["fit ≥ 1.8× textbook images/s, ae_784-1000-500-250-30"] is True
    assert met["≥ 50% of peak matmul FLOP/s (or memory-bound), ae_784-1000-500-250-30"] is False
    assert met["≥ 50% of peak matmul FLOP/s (or memory-bound), conv_ae_max_unpool_32"] is True  # memory-bound
    assert met["batch 512 ≥ batch 128 images/s, ae_784-1000-500-250-30"] is False
    assert met["batch 512 ≥ batch 128 images/s, conv_ae_max_unpool_32"] is True
    assert not any("textbook" in k and "conv" in k for k in met)  # no textbook target for conv models
    assert [x["met"] for x in t[-3:]] == [True, True, False]  # frame, quick build, one full notebook
    report = {"config": {}, "machine": {"cpu": "x", "cores": 2, "torch": "t", "torch_threads": 2, "cpu_capability": "c",
                          "loadavg_start": 0.1, "loadavg_end": 0.2},
              "throughput": tp, "latency": lat, "build": builds, "targets": t}
    table = run.format_table(report)
    assert "textbook" in table and "4.00" in table and "40%" in table and "lectures/01.ipynb" in table


def test_full_build_targets_are_judged_at_reference_speed_when_the_build_measured_it():
    slow = {"path": "lectures/02.ipynb", "status": "ok", "seconds": 400.0, "reference_seconds": 130.0,
            "machine_gflops": 65.0}
    unscaled = {"path": "lectures/03.ipynb", "status": "ok", "seconds": 300.0}
    build = {"mode": "full", "zoo": False, "seconds": 700.0, "returncode": 0, "stderr_tail": "", "notebooks": [slow]}
    met = {x["target"]: x for x in run.targets([], [], [build])}
    row = met["lectures/02.ipynb in full mode ≤ 240 s at reference speed"]
    assert row["met"] is True and "130 s at reference speed (65 GFLOP/s measured)" in row["measured"]
    assert met["aelab build (full mode) ≤ 1200 s at reference speed"]["met"] is True
    build["notebooks"] = [slow, unscaled]          # one notebook without a speed: judged on raw seconds
    met = {x["target"]: x["met"] for x in run.targets([], [], [build])}
    assert met["lectures/03.ipynb in full mode ≤ 240 s"] is False
    assert met["aelab build (full mode) ≤ 1200 s"] is True   # 700 s raw


def test_main_writes_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert run.main(["--no-throughput", "--no-modern", "--latency-calls", "2", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert set(data) >= {"machine", "config", "throughput", "latency", "build", "targets"}
    assert len(data["latency"]) == len(latency.LATENCY_MODELS)
    assert "Widget frame latency" in capsys.readouterr().out


def test_widget_update_benchmark_structure():
    from benchmarks import widget_updates

    rows = widget_updates.widget_update_times(updates=2, n_points=50)
    assert len(rows) == 3 and all(r.median_ms > 0 and r.updates == 2 for r in rows)
    assert abs(rows[0].ratio_to_budget - rows[0].median_ms / 50.0) < 1e-9
    assert "median / 50 ms" in widget_updates.format_table(rows)


def test_rbm_cd1_benchmark(fake_data):
    """CD-1's FLOPs are its five (N × 784) · (784 × H) products; both loops train the RBM."""
    images, ds = fake_data
    rbm = RBM(784, 8, seed=0)
    assert throughput.library_train_flops_per_image(rbm, None) == 5 * 2 * 784 * 8
    before = rbm.W.clone()
    for rate in (throughput.textbook_images_per_second(rbm, ds, 32, loss=None, lr=0.05, batch_size=8),
                 throughput.fit_images_per_second(RBM(784, 8, seed=0), images, 48, loss=None, lr=0.05,
                                                  batch_size=8)):
        assert math.isfinite(rate) and rate > 0
    assert not torch.equal(rbm.W, before)  # the textbook loop really ran cd_step
    setup = throughput.family_setup("rbm_784-256_cd1", images, ds)
    assert setup["lr"] == 0.05 and setup["textbook_batch"] == 100 and setup["variants"] == throughput.RBM_VARIANTS


def test_document_autoencoder_benchmark(fake_data):
    docs = throughput.synthetic_documents(40, vocabulary=50, words=20.0)
    assert docs.shape == (40, 50) and docs.min() >= 0 and torch.equal(docs, docs.round())
    assert 10 <= docs.sum(1).mean() <= 30 and (docs == 0).float().mean() > 0.5  # sparse counts, ~20 words
    model = DocumentAutoencoder((50, 8, 2))
    flops = throughput.library_train_flops_per_image(model, throughput.multinomial_nll_per_document, (50,))
    assert flops >= 2 * 2 * (50 * 8 + 8 * 2) * 2  # forward + backward of four layers, at least
    from torch.utils.data import TensorDataset

    for rate in (throughput.textbook_images_per_second(model, TensorDataset(docs), 32,
                                                       loss=throughput.multinomial_nll_per_document, batch_size=8),
                 throughput.fit_images_per_second(model, docs, 32, loss=throughput.multinomial_nll_per_document,
                                                  batch_size=8)):
        assert math.isfinite(rate) and rate > 0
    images, ds = fake_data
    setup = throughput.family_setup("doc_ae_2000-250-10", images, ds)
    assert setup["images"].shape == (len(images), throughput.VOCABULARY) and setup["lr"] == 3e-3


def test_every_family_has_a_model_and_a_setup(fake_data):
    images, ds = fake_data
    assert {"rbm_784-256_cd1", "doc_ae_2000-250-10", "conv_ae_repeat_32"} <= set(throughput.MODELS)
    for name in throughput.MODELS:
        assert set(throughput.family_setup(name, images, ds)) >= {"images", "dataset"}


def test_conv_variants_include_the_chunked_control(fake_data):
    """The conv families time batch 512 as one block (the default) and in chunks (issue 26's first fix)."""
    from aelab.models import ConvAutoencoder

    images, ds = fake_data
    assert [v.chunks for v in throughput.CONV_VARIANTS] == [None, None, None, 128]
    seen = []

    def factory():
        m = ConvAutoencoder(code_size=2, channels=(2, 2))
        seen.append(m)
        return m

    variants = (throughput.FitVariant("whole", 8), throughput.FitVariant("chunked", 8, chunks=4))
    res = throughput.compare("conv", factory, squared_error_per_image, images, ds, n_images=16, repeats=1,
                             variants=variants, peak_n=32).as_dict()
    assert [v["chunks"] for v in res["variants"]] == [None, 4]
    assert seen[-1].config.chunk_size == 4 and seen[-2].config.chunk_size is None


def test_modern_families_measure_and_print(tmp_path, capsys, monkeypatch):
    from benchmarks import modern

    res = modern.measure("mae_7x7_75", steps=1, repeats=1, peak_n=256)
    assert res.items_per_s > 0 and res.train_mflop_per_item > 0 and 0 < res.fraction_of_peak
    saving = modern.encoder_saving(batch=16, calls=1, repeats=1)
    assert saving.flop_ratio == pytest.approx(4.0, rel=0.05)     # 16 patches vs the 4 visible at 75 %
    assert saving.wall_ratio > 0
    monkeypatch.setattr(modern, "run_all", lambda **kw: {"throughput": [res.as_dict()],
                                                         "mae_encoder": saving.as_dict()})
    out = tmp_path / "r.json"
    assert run.main(["--no-throughput", "--latency-calls", "0", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["modern"]["mae_encoder"]["flop_ratio"] == pytest.approx(saving.flop_ratio)
    assert "MAE encoder, all patches" in capsys.readouterr().out


def test_every_modern_family_builds_and_counts_flops():
    from benchmarks import modern

    for name, factory in modern.FAMILIES.items():
        model, data, loss_fn, batch = factory()
        assert modern.step_flops(model, loss_fn, data[:8]) > 0, name


def test_paired_batch_ratios_alternate_and_keep_the_chunked_control(fake_data, monkeypatch):
    images, _ = fake_data
    from aelab.models import ConvAutoencoder

    order = []
    real_fit = throughput.aelab.train.fit

    def recording_fit(model, data, **kw):
        order.append((kw["batch_size"], model.config.chunk_size))
        return real_fit(model, data, **kw)

    monkeypatch.setattr(throughput.aelab.train, "fit", recording_fit)

    def factory():
        return ConvAutoencoder(code_size=4, channels=(2, 4), input_shape=IMG)

    ratios = throughput.paired_batch_ratios(factory, images, 32, loss=squared_error_per_image, small=4, large=16,
                                            pairs=3, chunks=128)
    assert len(ratios) == 3 and all(math.isfinite(r) and r > 0 for r in ratios)
    # two warm-up epochs, then ABBA: small, large / large, small / small, large
    assert [bs for bs, _ in order] == [4, 16, 4, 16, 16, 4, 4, 16]
    assert {c for bs, c in order if bs == 16} == {128} and {c for bs, c in order if bs == 4} == {None}


def test_median_interval():
    med, low, high = throughput.median_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert med == 3.0 and 1.0 <= low <= med <= high <= 5.0
    assert throughput.median_interval([2.0] * 7) == (2.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="no values"):
        throughput.median_interval([])


@pytest.mark.parametrize("ratios, met", [
    ([0.99, 1.01, 1.0, 0.98, 1.02, 1.0, 0.99, 1.01], True),    # no slower: the interval reaches 1
    ([0.90, 0.91, 0.89, 0.92, 0.90, 0.91, 0.88, 0.90], False),  # measurably slower (glibc's default allocator)
    ([0.5, 1.5, 0.6, 1.4, 0.7, 1.3, 0.55, 1.45], False),        # too noisy to rule out a 5 % slowdown
])
def test_batch_ratio_target_is_judged_on_the_paired_interval(ratios, met):
    t = {"model": "conv_ae_repeat_32", "params": 1, "train_mflop_per_image": 1.0, "textbook_images_per_s": 1.0,
         "textbook_runs": [1.0], "peak_gflops": 1.0, "repeats": 1, "n_images": 8,
         "variants": [{"label": f"fit, batch {b}", "batch_size": b, "optimizer_impl": "fused", "images_per_s": 1.0,
                       "speedup": 1.0, "fraction_of_peak": 0.1, "runs": [1.0]} for b in (128, 512)],
         "batch_ratio_runs": ratios, "batch_ratio_chunked_runs": [0.9] * 8}
    target = next(x for x in run.targets([t], [], []) if x["target"].startswith("batch 512"))
    assert target["met"] is met
    assert "ABBA" in target["measured"] and "in chunks of 128 (issue 26's first fix): 0.900×" in target["measured"]
