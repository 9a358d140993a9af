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


# ---------------------------------------------------------------------------------------------
# Gaussian KDE refitted on its own samples (docs/theory.md §5.1)


def _uniform_index(rng: np.random.Generator, start: int, stop: int) -> int:
    """A uniform integer in [start, stop): start + floor(U (stop - start)), as the kernels draw it."""
    return min(start + int(rng.random() * (stop - start)), stop - 1)


def kde_chain(
    support0: np.ndarray,
    chol0: np.ndarray,
    num_samples: int,
    num_generations: int,
    *,
    bandwidth,
    regime: str = "replace",
    fraction: float = 0.0,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """One replicate of the KDE chain: means (n+1, d) and covariances (n+1, d, d) of models 0..n.

    A model is (support points, kernel Cholesky factor); a draw is a uniform support point plus
    factor @ z. regime: "replace", "mix", "split", "accumulate" or "subsample". bandwidth: a
    float h (factor h I) or a function (points) -> kernel covariance. Draws are made in the
    kernel's order (index from one uniform, then d normals, per point), so the same Generator
    gives the same run.
    """
    m, d = num_samples, support0.shape[1]
    support, chol = support0, chol0
    pool = np.empty((0, d))
    means = [support0.mean(axis=0)]
    covs = [np.cov(support0.T, bias=True).reshape(d, d) + chol0 @ chol0.T]
    split_count = int(np.rint(fraction * m))
    for _ in range(num_generations):
        dataset = np.empty((m, d))
        for i in range(m):
            fresh = (regime == "split" and i < split_count) or (
                regime == "mix" and rng.random() < fraction
            )
            points, factor = (support0, chol0) if fresh else (support, chol)
            j = _uniform_index(rng, 0, points.shape[0])
            dataset[i] = points[j] + factor @ rng.standard_normal(d)
        if regime in ("accumulate", "subsample"):
            pool = np.vstack([pool, dataset])
            if regime == "accumulate":
                support = pool
            else:
                index = np.arange(pool.shape[0])
                for i in range(m):
                    j = _uniform_index(rng, i, pool.shape[0])
                    index[i], index[j] = index[j], index[i]
                support = pool[index[:m]]
        else:
            support = dataset
        mle = np.cov(support.T, bias=True).reshape(d, d)
        kernel = bandwidth**2 * np.eye(d) if np.isscalar(bandwidth) else bandwidth(support)
        chol = np.linalg.cholesky(kernel)
        means.append(support.mean(axis=0))
        covs.append(mle + kernel)
    return np.array(means), np.array(covs)


# ---------------------------------------------------------------------------------------------
# Poisson family (docs/theory.md §5.3): every draw made


def poisson_chain(rate0, sizes, *, regime="replace", fraction=0.0, rng) -> np.ndarray:
    """One replicate of the fitted Poisson rate: rate_0, ..., rate_n, drawing every point.

    regime: "replace", "mix" (each point from (1 - fraction) Poi(rate) + fraction Poi(rate0)),
    "split" (round(fraction n) points from Poi(rate0)) or "accumulate" (mean of all points).
    """
    rate = float(rate0)
    pool = []
    path = [rate]
    for size in sizes:
        if regime == "mix":
            from_fresh = rng.random(size) < fraction
            data = np.where(from_fresh, rng.poisson(rate0, size), rng.poisson(rate, size))
        elif regime == "split":
            fresh = int(np.rint(fraction * size))
            data = np.concatenate([rng.poisson(rate0, fresh), rng.poisson(rate, size - fresh)])
        else:
            data = rng.poisson(rate, size)
        if regime == "accumulate":
            pool.append(data)
            data = np.concatenate(pool)
        rate = float(data.mean())
        path.append(rate)
    return np.array(path)


def poisson_replicates(rate0, sizes, num_replicates, *, seed, **kwargs) -> np.ndarray:
    """(n+1, R) array of independent chains from :func:`poisson_chain`."""
    rng = np.random.default_rng(seed)
    paths = [poisson_chain(rate0, sizes, rng=rng, **kwargs) for _ in range(num_replicates)]
    return np.stack(paths, axis=1)


# ---------------------------------------------------------------------------------------------
# Linear regression refitted on its own labels (docs/theory.md §5.2)


def regression_chain(
    w_star: np.ndarray,
    chol: np.ndarray,
    num_points: int,
    num_generations: int,
    *,
    noise_sd: float = 1.0,
    ridge: float = 0.0,
    design: str = "fixed",
    regime: str = "replace",
    fraction: float = 0.0,
    rng: np.random.Generator,
) -> np.ndarray:
    """One replicate: w_0 = w*, ..., w_n as an (n+1, d) array, fitted with numpy's lstsq-free
    normal equations (np.linalg.solve). regime: "replace", "mix", "split", "accumulate" or
    "subsample"; draws in the kernel's order (design rows, then per row: fresh flag, noise)."""
    d, t = w_star.size, num_points
    x = np.array([chol @ rng.standard_normal(d) for _ in range(t)])
    w = w_star.copy()
    out = [w.copy()]
    all_x, all_y = np.empty((0, d)), np.empty(0)
    split_count = int(np.rint(fraction * t))
    for n in range(num_generations):
        if design == "redrawn" and n > 0:
            x = np.array([chol @ rng.standard_normal(d) for _ in range(t)])
        y = np.empty(t)
        for i in range(t):
            fresh = (regime == "split" and i < split_count) or (
                regime == "mix" and rng.random() < fraction
            )
            y[i] = x[i] @ (w_star if fresh else w) + noise_sd * rng.standard_normal()
        all_x, all_y = np.vstack([all_x, x]), np.concatenate([all_y, y])
        fit_x, fit_y = x, y
        if regime == "accumulate":
            fit_x, fit_y = all_x, all_y
        elif regime == "subsample":
            index = np.arange(all_y.size)
            for i in range(t):
                j = _uniform_index(rng, i, all_y.size)
                index[i], index[j] = index[j], index[i]
            fit_x, fit_y = all_x[index[:t]], all_y[index[:t]]
        w = np.linalg.solve(fit_x.T @ fit_x + ridge * np.eye(d), fit_x.T @ fit_y)
        out.append(w.copy())
    return np.array(out)


# ---------------------------------------------------------------------------------------------
# Sampling policies (docs/theory.md §8): the maps, the chains and the exact count chain, by hand


def policy_map(p, stages) -> np.ndarray:
    """T(p) for stages [("temperature", tau), ("top_k", k), ("top_p", p), ("min_p", p)], one
    vector at a time with Python sorting (ties: lower index first; top-p slack 1e-12)."""
    q = np.asarray(p, dtype=float).copy()
    for name, value in stages:
        order = sorted(range(q.size), key=lambda i: (-q[i], i))
        keep = np.zeros(q.size, bool)
        if name == "temperature":
            q = np.where(q > 0, q ** (1.0 / value), 0.0)
            keep = q > 0
        elif name == "top_k":
            keep[order[: int(value)]] = True
        elif name == "top_p":
            total = 0.0
            for i in order:
                keep[i] = True
                total += q[i]
                if total >= value - 1e-12:
                    break
        elif name == "min_p":
            keep = q >= value * q.max()
        q = np.where(keep & (q > 0), q, 0.0)
        q = q / q.sum()
    return q


def categorical_policy_replicates(p0, size, num_generations, num_replicates, stages, *, seed):
    """(n+1, R, K) frequencies of the categorical chain whose fitted models generate T(p):
    dataset 0 from p0 as is, then counts ~ Multinomial(M, T(p_n)) (docs/theory.md §8.1)."""
    rng = np.random.default_rng(seed)
    p0 = np.asarray(p0, dtype=float)
    out = np.empty((num_generations + 1, num_replicates, p0.size))
    for r in range(num_replicates):
        p = p0.copy()
        out[0, r] = p
        for g in range(num_generations):
            q = p if g == 0 else policy_map(p, stages)
            p = rng.multinomial(size, q) / size
            out[g + 1, r] = p
    return out


def two_state_policy_dense(p: float, m: int, num_generations: int, stages) -> np.ndarray:
    """Law of the first state's count (rows n = 1..num_generations, columns 0..M) by dense
    matrices: Bin(M, p) first, then rows Bin(M, T(j/M)) (docs/theory.md §8.1)."""
    from scipy.stats import binom

    k = np.arange(m + 1)
    q = np.array([policy_map([j / m, (m - j) / m], stages)[0] for j in k])  # exact ties
    matrix = binom.pmf(k[None, :], m, q[:, None])
    law = binom.pmf(k, m, p)
    rows = [law]
    for _ in range(num_generations - 1):
        law = law @ matrix
        rows.append(law)
    return np.array(rows)


def gaussian_policy_chain(var0, size, num_generations, *, tau=1.0, cut=np.inf, ddof=1, rng):
    """Fitted variances of one 1-D chain whose fitted models generate mu + sigma tau X, X a
    standard normal restricted to [-cut, cut] by rejection (docs/theory.md §8.2)."""
    mean, var = 0.0, float(var0)
    out = [var]
    for g in range(num_generations):
        if g == 0:
            x = rng.normal(mean, np.sqrt(var), size)
        else:
            z = rng.standard_normal(size)
            bad = np.abs(z) > cut
            while bad.any():
                z[bad] = rng.standard_normal(bad.sum())
                bad = np.abs(z) > cut
            x = mean + np.sqrt(var) * tau * z
        mean, var = x.mean(), x.var(ddof=ddof)
        out.append(var)
    return np.array(out)


# ---------------------------------------------------------------------------------------------
# Weighted fresh data (docs/theory.md §9.1)


def categorical_weighted_chain(p0, sizes, weight, num_real, *, pseudo_count=0.0, rng) -> np.ndarray:
    """One categorical chain under WeightedFresh(weight, num_real): p' = (1 - w) (fit to M draws
    of p) + w (fit to num_real draws of p0); returns p_0, ..., p_n as an (n+1, K) array."""
    p0 = np.asarray(p0, dtype=float)
    k = p0.size
    p = p0.copy()
    path = [p.copy()]
    for size in sizes:
        synthetic = (rng.multinomial(size, p) + pseudo_count) / (size + k * pseudo_count)
        real = (rng.multinomial(num_real, p0) + pseudo_count) / (num_real + k * pseudo_count)
        p = (1 - weight) * synthetic + weight * real
        path.append(p.copy())
    return np.array(path)


def gaussian_weighted_chain(mean0, var0, sizes, weight, num_real, *, ddof=1, rng):
    """One 1-D Gaussian chain under WeightedFresh(weight, num_real): mean and variance are
    (1 - w) x (fit to M draws of the model) + w x (fit to num_real draws of N(mean0, var0));
    returns the means and variances of generations 0..n."""
    mean, var = float(mean0), float(var0)
    means, variances = [mean], [var]
    for size in sizes:
        x = rng.normal(mean, np.sqrt(var), size)
        y = rng.normal(mean0, np.sqrt(var0), num_real)
        mean = (1 - weight) * x.mean() + weight * y.mean()
        var = (1 - weight) * x.var(ddof=ddof) + weight * y.var(ddof=ddof)
        means.append(mean)
        variances.append(var)
    return np.array(means), np.array(variances)


# ---------------------------------------------------------------------------------------------
# Location estimators beyond the mean (docs/theory.md §10)


def gaussian_location_chain(mean0, var0, sizes, *, location, regime="replace", rng):
    """The fitted locations of one 1-D chain with known scale: every generation draws M points
    of N(theta, var0) and refits theta by the median, scipy's trim_mean(x, a) ("trimmed:a") or
    the mean, on the newest points ("replace") or on all points so far ("accumulate")."""
    from scipy.stats import trim_mean

    theta = float(mean0)
    pool = np.empty(0)
    out = [theta]
    for size in sizes:
        x = rng.normal(theta, np.sqrt(var0), size)
        pool = np.concatenate([pool, x]) if regime == "accumulate" else x
        if location == "median":
            theta = float(np.median(pool))
        elif location.startswith("trimmed:"):
            theta = float(trim_mean(pool, float(location.split(":")[1])))
        else:
            theta = float(pool.mean())
        out.append(theta)
    return np.array(out)
