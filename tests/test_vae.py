"""The VAE family (docs/theory.md §7.1, §11.2): data loaders, settings, metrics, the class-chain
theory, and tiny end-to-end runs (a few seconds of jax).

Statistical test: ``drift_test`` on neutral Wright–Fisher chains, z-scores from
``collapse_theory._stats`` at a false-alarm rate of 1e-3 (Bonferroni over its generations).
"""

from __future__ import annotations

import gzip
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import collapse_theory as ct
from collapse_theory._stats import z_threshold
from collapse_theory._validate import InputError, InputTypeError
from collapse_theory.cli import main
from collapse_theory.regimes import Accumulate, FreshData, Replace, WeightedFresh
from collapse_theory.vae import (
    ImageData,
    Probe,
    VAEConfig,
    class_chain_prediction,
    class_entropy,
    drift_test,
    latent_std,
    load_digits,
    load_mnist,
    read_idx,
    require_neural,
    simulate,
)

HAS_NEURAL = all(importlib.util.find_spec(m) for m in ("jax", "equinox", "optax"))
neural = pytest.mark.skipif(not HAS_NEURAL, reason='needs pip install "collapse_theory[neural]"')
TINY = VAEConfig(latent_dim=2, hidden=16, epochs=2, batch_size=32)


# ---------------------------------------------------------------------------------------------
# IDX files


def write_idx(path: Path, array: np.ndarray, *, compress: bool = False, magic: bytes | None = None):
    """An IDX file written by hand: 00 00 type ndim, big-endian sizes, big-endian data."""
    codes = {
        np.uint8: 0x08,
        np.int8: 0x09,
        np.int16: 0x0B,
        np.int32: 0x0C,
        np.float32: 0x0D,
        np.float64: 0x0E,
    }
    code = codes[array.dtype.type]
    header = magic if magic is not None else bytes([0, 0, code, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def mnist_folder(folder: Path, side: int = 8, n_train: int = 12, n_test: int = 6, **kw) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(exist_ok=True)
    write_idx(
        folder / "train-images-idx3-ubyte",
        rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        **kw,
    )
    write_idx(
        folder / "train-labels-idx1-ubyte", rng.integers(0, 10, n_train, dtype=np.uint8), **kw
    )
    write_idx(
        folder / "t10k-images-idx3-ubyte",
        rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        **kw,
    )
    write_idx(folder / "t10k-labels-idx1-ubyte", rng.integers(0, 10, n_test, dtype=np.uint8), **kw)
    return folder


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_round_trip(tmp_path, compress, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    back = read_idx(write_idx(tmp_path / "a.idx", array, compress=compress))
    assert back.dtype == np.dtype(dtype) and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


@given(st.lists(st.integers(0, 255), min_size=1, max_size=30))
@settings(max_examples=30, deadline=None)
def test_read_idx_fuzz_bytes(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("idx") / "x"
    array = np.array(values, dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(path, array)), array)
    path.write_bytes(bytes(values))  # arbitrary bytes: parsed or refused, never anything else
    try:
        read_idx(path)
    except InputError:
        pass


def test_read_idx_refuses_bad_files(tmp_path):
    array = np.zeros((2, 4, 4), np.uint8)
    with pytest.raises(InputError, match="does not exist"):
        read_idx(tmp_path / "missing")
    with pytest.raises(InputError, match="magic number 08030000"):
        read_idx(write_idx(tmp_path / "m", array, magic=bytes([8, 3, 0, 0])))
    with pytest.raises(InputError, match="magic number"):
        read_idx(write_idx(tmp_path / "t", array, magic=bytes([0, 0, 0x42, 3])))
    path = write_idx(tmp_path / "short", array)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(InputError, match="holds 29"):
        read_idx(path)
    with pytest.raises(InputTypeError, match="path"):
        read_idx(3)


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_reads_the_four_files(tmp_path, compress):
    data = load_mnist(mnist_folder(tmp_path / "m", compress=compress))
    assert data.train.shape == (12, 8, 8) and data.test.shape == (6, 8, 8)
    assert data.train.dtype == np.float32 and 0.0 <= data.train.min() <= data.train.max() <= 1.0
    raw = read_idx(next((tmp_path / "m").glob("train-images*")))
    np.testing.assert_allclose(data.train, raw / 255.0, rtol=1e-6)
    assert data.side == 8 and data.train_labels.shape == (12,)


def test_load_mnist_refuses_bad_folders(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
    folder = mnist_folder(tmp_path / "a")
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(InputError, match="no t10k-labels-idx1-ubyte"):
        load_mnist(folder)
    folder = mnist_folder(tmp_path / "b")
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((12, 8, 6), np.uint8))
    with pytest.raises(InputError, match=r"square images.*\(12, 8, 6\)"):
        load_mnist(folder)
    folder = mnist_folder(tmp_path / "c")
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(11, np.uint8))
    with pytest.raises(InputError, match=r"shape \(12,\)"):
        load_mnist(folder)
    folder = mnist_folder(tmp_path / "d", side=6)
    with pytest.raises(InputError, match="multiple of 4"):
        load_mnist(folder)


def test_load_digits_split_is_fixed_and_disjoint():
    a, b = load_digits(), load_digits()
    assert a.train.shape == (1438, 8, 8) and a.test.shape == (359, 8, 8)
    np.testing.assert_array_equal(a.train, b.train)
    assert a.train.min() == 0.0 and a.train.max() == 1.0 and a.num_classes == 10
    rows = {r.tobytes() for r in a.train} & {r.tobytes() for r in a.test}
    assert len(rows) <= 5  # the 1,797 digits hold a few exact duplicates, no shared index
    with pytest.raises(InputError, match="test_fraction"):
        load_digits(1.0)


# ---------------------------------------------------------------------------------------------
# settings and metrics


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"latent_dim": 0}, InputError, "latent_dim must be an integer >= 1; got 0"),
        ({"latent_dim": 2.0}, InputTypeError, "latent_dim"),
        ({"architecture": "rnn"}, InputError, "architecture must be one of"),
        ({"decoder": "poisson"}, InputError, "decoder"),
        ({"pixel_std": 0.0}, InputError, "pixel_std"),
        ({"epochs": 0}, InputError, "epochs"),
        ({"learning_rate": -1.0}, InputError, "learning_rate"),
        ({"init": "warm"}, InputError, "init"),
        ({"pixels": "mode"}, InputError, "pixels"),
    ],
)
def test_config_refuses_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        VAEConfig(**kwargs)


def test_config_steps_and_side():
    assert VAEConfig(epochs=3, batch_size=64).steps(1438) == 3 * 23
    VAEConfig(architecture="conv").check_side(28)
    with pytest.raises(InputError, match="multiple of 4; got 10"):
        VAEConfig(architecture="conv").check_side(10)


def test_latent_std_and_entropy_against_loops():
    rng = np.random.default_rng(3)
    means = rng.normal(0.3, 0.7, (50, 4))
    flat = [v for row in means for v in row]
    centre = sum(flat) / len(flat)
    assert latent_std(means) == pytest.approx(
        math.sqrt(sum((v - centre) ** 2 for v in flat) / len(flat))
    )
    counts = np.array([5, 0, 3, 2])
    expected = -sum(c / 10 * math.log(c / 10) for c in counts if c)
    assert class_entropy(counts) == pytest.approx(expected)
    with pytest.raises(InputError, match="means"):
        latent_std(np.zeros((1, 3)))
    with pytest.raises(InputError, match="counts"):
        class_entropy([0, 0])


@given(st.integers(2, 20), st.integers(1, 5), st.floats(0.01, 10.0))
@settings(max_examples=25, deadline=None)
def test_latent_std_scales(n, d, factor):
    means = np.random.default_rng(n * d).normal(size=(n, d))
    assert latent_std(factor * means) == pytest.approx(factor * latent_std(means), rel=1e-9)


# ---------------------------------------------------------------------------------------------
# the class chain


def test_prediction_matches_the_categorical_laws():
    p0 = np.array([0.2, 0.1, 0.3, 0.4])
    gens = np.arange(4)
    pred = class_chain_prediction(p0, 30, gens, num_replicates=500, seed=1)
    np.testing.assert_allclose(
        pred.expected_heterozygosity, ct.categorical.expected_heterozygosity(p0, 30, gens)
    )
    np.testing.assert_allclose(pred.drift_scale, 1.0 - (1.0 - 1.0 / 30) ** gens)
    np.testing.assert_allclose(
        pred.expected_survivors, ct.categorical.expected_survivors(p0, 30, gens)
    )
    # FreshData "mix": c_{n+1} = 1/M + (1 - a)^2 (1 - 1/M) c_n (docs/theory.md §1.7), by hand
    fresh = class_chain_prediction(p0, 30, gens, FreshData(0.3), num_replicates=500, seed=1)
    c = [0.0]
    for _ in range(3):
        c.append(1 / 30 + 0.49 * (1 - 1 / 30) * c[-1])
    np.testing.assert_allclose(fresh.drift_scale, c, rtol=1e-12)
    assert np.all(pred.entropy_band[:, 0] <= pred.entropy_median)
    assert np.all(pred.entropy_median <= pred.entropy_band[:, 1])
    assert pred.entropy_band[0, 0] == pytest.approx(ct.metrics.entropy(p0))


@pytest.mark.parametrize("regime", [Replace(), FreshData(0.2), Accumulate()])
def test_drift_test_is_calibrated_on_neutral_chains(regime):
    p0 = np.array([0.15, 0.05, 0.3, 0.1, 0.4])
    m, reps = 40, 3000
    run = ct.categorical.simulate(p0, m, 4, num_replicates=reps, regime=regime, seed=7)
    freq = np.transpose(run["p"], (1, 0, 2))  # (R, G+1, K)
    test = drift_test(freq, m, regime)
    limit = z_threshold(1e-3, 4)
    assert np.all(np.abs(test.ratio - 1.0) / test.ratio_se < limit), test.ratio
    assert np.all(test.z_max < z_threshold(1e-3, 4 * p0.size))
    # spread ratio = mean over chains of q_r = ||d_r - mean d||^2 / (c_n mean H_0) (d: drift
    # from generation 0, up to the factor R/(R-1)): its standard error is that of a mean of q
    drift = freq[:, 1:] - freq[:, :1]
    q = ((drift - drift.mean(axis=0)) ** 2).sum(axis=-1)  # (R, G)
    h0 = 1.0 - (freq[:, 0] ** 2).sum(axis=-1)
    c_n = 1.0 - (1.0 - 1.0 / m) ** test.generations if isinstance(regime, Replace) else None
    if c_n is not None:
        spread_se = q.std(axis=0, ddof=1) / math.sqrt(reps) / (c_n * h0.mean())
        assert np.all(np.abs(test.spread_ratio - 1.0) < limit * spread_se), spread_se
    assert np.all(np.abs(test.spread_ratio - 1.0) < limit * math.sqrt(2.0 / reps) * 2)
    if isinstance(regime, Replace):
        # M_eff solves 1 - (1 - 1/M)^n = c (c: the observed drift in units of H_0): the drift
        # it implies must match the neutral chain's c_n(m) within `limit` standard errors of c
        # (ratio_se in those units)
        n = test.generations
        scale = 1.0 - (1.0 - 1.0 / m) ** n
        implied = 1.0 - (1.0 - 1.0 / test.effective_samples) ** n
        assert np.all(np.abs(implied - scale) < limit * test.ratio_se * scale), (
            test.effective_samples,
            implied,
            scale,
        )
    else:
        assert np.all(np.isnan(test.effective_samples))


def test_drift_test_refuses_bad_input():
    with pytest.raises(InputError, match="R >= 2"):
        drift_test(np.full((1, 3, 2), 0.5), 10)
    with pytest.raises(InputError, match="sum to 1"):
        drift_test(np.full((2, 3, 2), 0.4), 10)
    with pytest.raises(InputError, match="not supported by drift_test"):
        drift_test(np.full((2, 3, 2), 0.5), 10, WeightedFresh(0.5, 3))


# ---------------------------------------------------------------------------------------------
# the neural part


def test_require_neural_names_the_extra(monkeypatch, capsys, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "equinox" else real(n, *a)
    )
    with pytest.raises(ImportError, match=r"equinox is not installed.*collapse_theory\[neural\]"):
        require_neural()
    with pytest.raises(ImportError, match="neural"):
        simulate(tiny_data(), 1, config=TINY)
    assert main(["vae-paper", "--quick", "--out", str(tmp_path / "o")]) == 2
    assert 'pip install "collapse_theory[neural]"' in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def tiny_data(side: int = 8) -> ImageData:
    full = load_digits()
    if side == 8:
        return ImageData(
            full.train[:160],
            full.test[:40],
            full.train_labels[:160],
            full.test_labels[:40],
            "digits-tiny",
        )
    return full


def test_simulate_refuses_bad_input():
    with pytest.raises(InputTypeError, match="data must be an ImageData"):
        simulate(np.zeros((3, 8, 8)), 1)
    with pytest.raises(InputError, match=r"not supported by ct\.vae\.simulate"):
        simulate(tiny_data(), 1, regime=WeightedFresh(0.5, 3), config=TINY)
    with pytest.raises(InputError, match="num_samples must be an integer >= 2"):
        simulate(tiny_data(), 1, num_samples=1, config=TINY)
    with pytest.raises(InputTypeError, match="config must be a VAEConfig"):
        simulate(tiny_data(), 1, config={"latent_dim": 2})
    side10 = ImageData(
        np.zeros((4, 12, 12), np.float32),
        np.zeros((2, 12, 12), np.float32),
        np.arange(4),
        np.arange(2),
        "x",
    )
    with pytest.raises(InputError, match="multiple of 4; got 10"):
        simulate(
            ImageData(
                side10.train[:, :10, :10],
                side10.test[:, :10, :10],
                side10.train_labels,
                side10.test_labels,
                "x",
            ),
            1,
            config=VAEConfig(architecture="conv"),
        )


@neural
def test_elbo_matches_numpy():
    import jax

    from collapse_theory.vae import _jax

    x = load_digits().test[:2]
    for decoder in ("gaussian", "bernoulli"):
        config = VAEConfig(latent_dim=3, hidden=8, decoder=decoder, pixel_std=0.3)
        model = _jax.new_model(config, 8, jax.random.key(0))
        key = jax.random.key(5)
        for i, image in enumerate(x):
            got = float(_jax.elbo_one(config, model, image, jax.random.fold_in(key, i)))
            mu, logvar = (np.asarray(v, np.float64) for v in model.encode(image))
            eps = np.asarray(jax.random.normal(jax.random.fold_in(key, i), mu.shape), np.float64)
            z = mu + np.exp(0.5 * logvar) * eps
            logits = np.asarray(model.decode(z.astype(np.float32)), np.float64)
            m = 1.0 / (1.0 + np.exp(-logits))
            xi = image.astype(np.float64)
            if decoder == "gaussian":
                s = 0.3
                loglik = np.sum(-0.5 * ((xi - m) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi))
            else:
                loglik = np.sum(xi * np.log(m) + (1 - xi) * np.log(1 - m))
            kl = 0.5 * np.sum(np.exp(logvar) + mu**2 - 1.0 - logvar)
            assert got == pytest.approx(loglik - kl, rel=1e-4, abs=1e-3)


@neural
def test_conv_model_shapes():
    import jax

    from collapse_theory.vae import _jax

    config = VAEConfig(architecture="conv", latent_dim=20, capacity=4)
    import equinox as eqx

    # shapes traced, nothing compiled
    model = eqx.filter_eval_shape(_jax.new_model, config, 28, jax.random.key(0))
    image = jax.ShapeDtypeStruct((28, 28), np.float32)
    mu, logvar = eqx.filter_eval_shape(lambda m, x: m.encode(x), model, image)
    assert mu.shape == (20,) and logvar.shape == (20,)
    decoded = eqx.filter_eval_shape(lambda m, z: m.decode(z), model, mu)
    assert decoded.shape == (28, 28)
    assert model.conv2.out_channels == 8 and model.to_latent.in_features == 8 * 7 * 7


@neural
def test_simulate_tiny_runs_and_reproduces():
    data = tiny_data()
    probe = Probe.fit(data)
    a = simulate(data, 2, config=TINY, num_samples=100, grid_size=4, seed=3, probe=probe)
    b = simulate(data, 2, config=TINY, num_samples=100, grid_size=4, seed=3, probe=probe)
    c = simulate(data, 2, config=TINY, num_samples=100, grid_size=4, seed=4, probe=probe)
    assert a.latent_std.shape == (1, 3) and a.class_counts.shape == (1, 3, 10)
    assert a.test_elbo.shape == (1, 3, 40) and a.grids.shape == (1, 3, 4, 8, 8)
    assert np.all(a.class_counts.sum(axis=-1) == 100)
    for name in ("latent_std", "class_counts", "test_elbo", "frechet_pca", "grids"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.test_elbo, c.test_elbo)
    rows = a.rows()
    assert [r["generation"] for r in rows] == [0, 1, 2]
    assert {
        "regime",
        "generation",
        "latent_std",
        "class_entropy",
        "surviving_classes",
        "test_elbo_mean",
    } <= set(rows[0])
    assert np.all((a.grids >= 0) & (a.grids <= 1))


OPTIONS = VAEConfig(
    latent_dim=2,
    hidden=16,
    epochs=2,
    batch_size=32,
    init="previous",
    decoder="bernoulli",
    pixels="sample",
)


@neural
@pytest.mark.parametrize(
    ("regime", "config", "generations"),
    [
        (Accumulate(), TINY, 2),
        (FreshData(0.5), TINY, 2),
        (FreshData(0.5, "split"), OPTIONS, 2),
    ],
)
def test_simulate_regimes_and_options(regime, config, generations):
    run = simulate(
        tiny_data(),
        generations,
        regime=regime,
        config=config,
        num_samples=100,
        grid_size=4,
        num_replicates=2,
        seed=0,
    )
    assert run.latent_std.shape == (2, generations + 1) and np.all(np.isfinite(run.latent_std))
    assert np.all(np.isfinite(run.test_elbo)) and np.all(run.class_counts.sum(-1) == 100)
    assert np.all((run.grids >= 0) & (run.grids <= 1))


def test_cli_vae_paper_refuses_bad_input(capsys, tmp_path):
    for bad in (
        ["--latent-dim", "0"],
        ["--generations", "0"],
        ["--regime", "weighted:0.5:3"],
        ["--regime", "sometimes"],
        ["--epochs", "1e3"],
    ):
        assert main(["vae-paper", *bad]) == 2
    _, err = capsys.readouterr()
    assert "--latent-dim" in err and "--generations" in err and "--regime" in err
    assert main(["vae-paper", "--data", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    _, err = capsys.readouterr()
    assert "does not exist" in err
    folder = mnist_folder(tmp_path / "m", side=8)
    write_idx(
        folder / "train-images-idx3-ubyte",
        np.zeros((12, 8, 8), np.uint8),
        magic=bytes([1, 2, 8, 3]),
    )
    assert main(["vae-paper", "--data", str(folder), "--out", str(tmp_path / "o")]) == 2
    _, err = capsys.readouterr()
    assert "magic number" in err
