"""Slow, obvious numpy reference implementations that the fast kernels are tested against.

Nothing here is optimised: one replicate at a time, one generation at a time, using numpy's own
samplers, written to be read side by side with docs/theory.md.
"""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------------------------------------
# Categorical simulation (docs/theory.md §1)


def categorical_chain(
    p0: np.ndarray,
    sizes: np.ndarray,
    *,
    regime: str = "replace",
    fraction: float = 0.0,
    pseudo_count: float = 0.0,
    rng: np.random.Generator,
) -> np.ndarray:
    """One replicate of the categorical chain; returns p_0, ..., p_n as an (n+1, K) array.

    regime: "replace", "mix", "split" or "accumulate" (docs/theory.md §1, §1.7, §1.8).
    """
    p0 = np.asarray(p0, dtype=float)
    num_states = p0.size
    p = p0.copy()
    pool = np.zeros(num_states)
    path = [p.copy()]
    for size in sizes:
        if regime == "mix":
            counts = rng.multinomial(size, (1 - fraction) * p + fraction * p0)
        elif regime == "split":
            fresh = int(np.rint(fraction * size))
            counts = rng.multinomial(fresh, p0) + rng.multinomial(size - fresh, p)
        else:
            counts = rng.multinomial(size, p)
        if regime == "accumulate":
            pool = pool + counts
            p = (pool + pseudo_count) / (pool.sum() + num_states * pseudo_count)
        else:
            p = (counts + pseudo_count) / (size + num_states * pseudo_count)
        path.append(p.copy())
    return np.array(path)


def categorical_replicates(p0, sizes, num_replicates, *, seed, **kwargs) -> np.ndarray:
    """(n+1, R, K) array of independent chains from :func:`categorical_chain`."""
    rng = np.random.default_rng(seed)
    paths = [categorical_chain(p0, sizes, rng=rng, **kwargs) for _ in range(num_replicates)]
    return np.stack(paths, axis=1)


def first_absorption(paths: np.ndarray) -> np.ndarray:
    """First generation with a single positive state, per replicate (-1 if none)."""
    single = np.count_nonzero(paths > 0, axis=-1) == 1
    hit = single.any(axis=0)
    return np.where(hit, single.argmax(axis=0), -1)


# ---------------------------------------------------------------------------------------------
# Gaussian simulation by explicit samples (docs/theory.md §2.1, §3.1; the paper's procedure)


def gaussian_chain(mean0, cov0, sizes, *, ddof=1, regime="replace", fraction=0.0, rng):
    """One replicate: draw every dataset point by point, refit mean and covariance with numpy.

    ``mean0``/``cov0`` are a scalar mean and variance (1-D) or a vector and matrix. Returns the
    lists of fitted means and (co)variances for generations 0..n.
    """
    one_dim = np.ndim(mean0) == 0
    mean0 = np.atleast_1d(np.asarray(mean0, dtype=float))
    cov0 = np.atleast_2d(np.asarray(cov0, dtype=float))
    mean, cov = mean0, cov0
    pool = []
    means, covs = [mean], [cov]
    for size in sizes:
        if regime == "split":
            fresh = int(np.rint(fraction * size))
        elif regime == "mix":
            fresh = rng.binomial(size, fraction)
        else:
            fresh = 0
        data = np.concatenate(
            [
                rng.multivariate_normal(mean0, cov0, size=fresh),
                rng.multivariate_normal(mean, cov, size=size - fresh),
            ]
        )
        if regime == "accumulate":
            pool.append(data)
            data = np.concatenate(pool)
        mean = data.mean(axis=0)
        cov = np.atleast_2d(np.cov(data, rowvar=False, ddof=ddof))
        means.append(mean)
        covs.append(cov)
    if one_dim:
        return np.array([m[0] for m in means]), np.array([c[0, 0] for c in covs])
    return np.array(means), np.array(covs)


def gaussian_replicates(mean0, cov0, sizes, num_replicates, *, seed, **kwargs):
    """Stacked (n+1, R, ...) means and covariances of :func:`gaussian_chain` replicates."""
    rng = np.random.default_rng(seed)
    chains = [gaussian_chain(mean0, cov0, sizes, rng=rng, **kwargs) for _ in range(num_replicates)]
    return (np.stack([c[0] for c in chains], axis=1), np.stack([c[1] for c in chains], axis=1))


# ---------------------------------------------------------------------------------------------
# Categorical theory (docs/theory.md §1.4, §1.6): dense-matrix references for the exact chains


def lumped_loss_dense(p: float, sizes) -> np.ndarray:
    """P(p_{n,A} = 0) for n = 1..len(sizes) by dense matrix-vector iteration (docs/theory.md §1.4).

    b = Bin(M_0, p) pmf, then b <- b P_i with P_i[j, k] = Bin(k; M_i, j / M_{i-1}).
    """
    from scipy.stats import binom

    sizes = [int(s) for s in sizes]
    b = binom.pmf(np.arange(sizes[0] + 1), sizes[0], p)
    out = [b[0]]
    for i in range(1, len(sizes)):
        prev, nxt = sizes[i - 1], sizes[i]
        matrix = binom.pmf(np.arange(nxt + 1)[None, :], nxt, (np.arange(prev + 1) / prev)[:, None])
        b = b @ matrix
        out.append(b[0])
    return np.array(out)


def absorption_time_dense(p: float, m: int) -> float:
    """Mean absorption time of the 2-state chain from fraction p: t = (I - Q)^{-1} 1 on 1..M-1,
    plus one first step from p to Bin(M, p) (docs/theory.md §1.6)."""
    from scipy.stats import binom

    k = np.arange(m + 1)
    matrix = binom.pmf(k[None, :], m, (k / m)[:, None])
    q = matrix[1:m, 1:m]
    t = np.linalg.inv(np.eye(m - 1) - q) @ np.ones(m - 1)
    return 1.0 + binom.pmf(k[1:m], m, p) @ t


def composition_distribution(comps: np.ndarray, matrix: np.ndarray, p0, n: int) -> np.ndarray:
    """Law over compositions after n >= 1 generations from p0 (first step Mult(M, p0))."""
    from scipy.stats import multinomial

    m = int(comps[0].sum())
    dist = multinomial.pmf(comps, m, np.asarray(p0, dtype=float))
    for _ in range(n - 1):
        dist = dist @ matrix
    return dist


# ---------------------------------------------------------------------------------------------
# Gaussian mixtures (docs/theory.md §4): EM written the obvious way with numpy/scipy


def em_gmm(x, weights, means, covs, *, tol=1e-5, max_iter=2000, reg_covar=0.0):
    """Full-covariance EM from the given start, vectorised over points with scipy's
    ``multivariate_normal.logpdf``; the same stopping rule as scikit-learn (change of the mean
    log-likelihood < tol). Returns (weights, means, covs, iterations, mean log-likelihood)."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    x = np.asarray(x, dtype=float)
    weights, means, covs = (np.array(a, dtype=float) for a in (weights, means, covs))
    lower, iterations = -np.inf, 0
    while iterations < max_iter:
        iterations += 1
        previous = lower
        log_prob = np.stack(
            [
                np.log(weights[k]) + multivariate_normal.logpdf(x, means[k], covs[k])
                for k in range(weights.size)
            ],
            axis=1,
        )
        norm = logsumexp(log_prob, axis=1)
        lower = norm.mean()
        resp = np.exp(log_prob - norm[:, None])
        nk = resp.sum(axis=0)
        weights = nk / nk.sum()
        means = resp.T @ x / nk[:, None]
        covs = np.stack(
            [
                (resp[:, k, None] * (x - means[k])).T @ (x - means[k]) / nk[k]
                + reg_covar * np.eye(x.shape[1])
                for k in range(weights.size)
            ]
        )
        if abs(lower - previous) < tol:
            break
    return weights, means, covs, iterations, lower


def gmm_chain(mixture0, sizes, *, regime="replace", fraction=0.0, rng, tol=1e-5):
    """One replicate of recursive mixture fitting, the obvious way: draw each dataset with
    ``Mixture.sample`` (fresh points from ``mixture0``; the pool of all batches for
    "accumulate"), refit with :func:`em_gmm` warm-started from the previous fit. Returns the
    lists of weights, means and covariances for generations 0..n."""
    from collapse_theory.gmm import Mixture

    mix = mixture0
    pool = []
    weights, means, covs = [mix.weights], [mix.means], [mix.covs]
    for size in sizes:
        if regime == "split":
            fresh = int(np.rint(fraction * size))
        elif regime == "mix":
            fresh = rng.binomial(size, fraction)
        else:
            fresh = 0
        data = np.concatenate([mixture0.sample(fresh, rng), mix.sample(size - fresh, rng)])
        if regime == "accumulate":
            pool.append(data)
            data = np.concatenate(pool)
        w, m, c, _, _ = em_gmm(data, mix.weights, mix.means, mix.covs, tol=tol)
        mix = Mixture(w / w.sum(), m, c)
        weights.append(mix.weights)
        means.append(mix.means)
        covs.append(mix.covs)
    return np.array(weights), np.array(means), np.array(covs)


# ---------------------------------------------------------------------------------------------
# Wasserstein-2 between two Gaussians (docs/theory.md §2.5, §3.6)


def w2_gaussian_squared(m1, c1, m2, c2) -> float:
    """W_2^2(N(m1, C1), N(m2, C2)) for ONE pair, written out as in docs/theory.md §3.6:
    ``|m1 - m2|^2 + tr(C1 + C2 - 2 (C2^{1/2} C1 C2^{1/2})^{1/2})`` with ``scipy.linalg.sqrtm``.
    A scalar mean and variance are the 1x1 case, ``(m1 - m2)^2 + (sqrt(c1) - sqrt(c2))^2``
    (§2.5). The one reference that ``collapse_theory.metrics.w2_gaussian`` is tested against."""
    from scipy.linalg import sqrtm

    m1, m2 = np.atleast_1d(np.asarray(m1, dtype=float)), np.atleast_1d(np.asarray(m2, dtype=float))
    c1, c2 = np.atleast_2d(np.asarray(c1, dtype=float)), np.atleast_2d(np.asarray(c2, dtype=float))
    root2 = np.real(sqrtm(c2))
    cross = np.real(sqrtm(root2 @ c1 @ root2))
    return float(np.sum((m1 - m2) ** 2) + np.trace(c1) + np.trace(c2) - 2.0 * np.trace(cross))
