"""The paper's VAE experiment at laptop scale (docs/theory.md §7.1, §11.2): runs per regime, the
Wright–Fisher comparison of the class histograms, and the report of ``collapse-theory
vae-paper``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from collapse_theory._stats import mean_se
from collapse_theory.regimes import Regime
from collapse_theory.rng import SeedLike, as_seed_sequence
from collapse_theory.vae.data import ImageData
from collapse_theory.vae.model import VAEConfig
from collapse_theory.vae.probe import Probe
from collapse_theory.vae.simulate import VAEResult, regime_label, simulate, write_rows
from collapse_theory.vae.theory import (
    ClassChainPrediction,
    DriftTest,
    class_chain_prediction,
    drift_test,
)

__all__ = ["PAPER_LATENT_STD", "PaperRun", "paper_experiment"]

#: The paper's latent std of generations 0-4 under the generation-0 encoder (docs/theory.md §7.1).
PAPER_LATENT_STD = (0.674, 0.607, 0.527, 0.468, 0.433)


@dataclass(frozen=True)
class PaperRun:
    """Runs of :func:`paper_experiment`, keyed by regime label, with their class-chain theory.

    Attributes
    ----------
    results : dict of str to VAEResult
    predictions : dict of str to ClassChainPrediction
        Wright–Fisher prediction from each run's generation-0 class frequencies (chain mean).
    drift : dict of str to DriftTest
        The observed drift against the neutral drift (runs with R >= 2 chains only).
    """

    results: dict[str, VAEResult]
    predictions: dict[str, ClassChainPrediction]
    drift: dict[str, DriftTest]

    def write_csv(self, path: str | Path) -> Path:
        """All runs' rows (see :meth:`VAEResult.rows`) in one CSV.

        Parameters
        ----------
        path : str or pathlib.Path

        Returns
        -------
        pathlib.Path
        """
        return write_rows(path, [row for run in self.results.values() for row in run.rows()])

    def report(self) -> str:
        """A Markdown report: per regime and generation the chain means (+- standard errors),
        the paper's latent std, and the Wright–Fisher comparison.

        Returns
        -------
        str
        """
        first = next(iter(self.results.values()))
        ref = first.reference
        lines = [
            f"# vae-paper: {first.metadata['data']}, N = {first.num_samples}, "
            f"{first.config.as_dict()}",
            "",
            f"Fixed classifier: test accuracy {ref['classifier_accuracy']:.3f}; real training "
            f"class counts {ref['class_counts_train'].tolist()}; real images: mean intensity "
            f"{ref['mean_intensity_train']:.3f}, Fréchet(train, test) {ref['frechet_train']:.3f}.",
            "",
        ]
        for label, run in self.results.items():
            lines += self._regime_section(label, run)
        return "\n".join(lines) + "\n"

    def _regime_section(self, label: str, run: VAEResult) -> list[str]:
        pred, drift = self.predictions[label], self.drift.get(label)
        real_std, real_se = mean_se(run.reference["latent_std_test"])
        lines = [
            f"## {label} (R = {run.num_replicates} chains)",
            "",
            f"Latent std of the real test images under model 0: {real_std:.3f} +- {real_se:.3f}.",
            "",
            "| generation | latent std | paper | class entropy | WF entropy 5-95% | "
            "surviving classes | WF E N | test ELBO | Fréchet PCA | mean pixel |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        columns = {
            "std": run.latent_std,
            "ent": run.class_entropy,
            "surv": run.surviving_classes.astype(float),
            "elbo": run.test_elbo.mean(axis=-1),
            "fr": run.frechet_pca,
            "pix": run.mean_intensity,
        }
        stats = {key: mean_se(value, axis=0) for key, value in columns.items()}
        for k in run.generations:
            paper = f"{PAPER_LATENT_STD[k]:.3f}" if k < len(PAPER_LATENT_STD) else ""

            def cell(key: str, digits: int = 3, k: int = int(k)) -> str:
                mean, se = stats[key][0][k], stats[key][1][k]
                return f"{mean:.{digits}f} +- {se:.{digits}f}"

            band = pred.entropy_band[k]
            lines.append(
                f"| {k} | {cell('std')} | {paper} | {cell('ent')} | {band[0]:.3f}-{band[1]:.3f} | "
                f"{cell('surv', 1)} | {pred.expected_survivors[k]:.2f} | {cell('elbo', 1)} | "
                f"{cell('fr')} | {cell('pix')} |"
            )
        lines.append("")
        if drift is not None:
            lines += [
                "Class drift against the neutral Wright–Fisher chain (docs/theory.md §1.3): ratio "
                "= mean over chains of |p_n - p_0|^2 / (c_n H_0), 1 for a neutral chain; M_eff: "
                "the M of a neutral chain with that drift; z_max: the largest |z| of the mean "
                "drift of one class.",
                "",
                "| generation | ratio | M_eff | z_max |",
                "|---|---|---|---|",
            ]
            for j, n in enumerate(drift.generations):
                lines.append(
                    f"| {n} | {drift.ratio[j]:.1f} +- {drift.ratio_se[j]:.1f} | "
                    f"{drift.effective_samples[j]:.3g} | {drift.z_max[j]:.1f} |"
                )
            lines.append("")
        return lines


def paper_experiment(
    data: ImageData,
    regimes: Sequence[Regime],
    num_generations: int = 5,
    *,
    num_replicates: int = 3,
    config: VAEConfig | None = None,
    num_samples: int | None = None,
    seed: SeedLike = 0,
    progress: bool = False,
    theory_replicates: int = 4000,
) -> PaperRun:
    """Run :func:`collapse_theory.vae.simulate` for each regime (independent seeds) and compare
    the class histograms with the K = 10 Wright–Fisher chain (docs/theory.md §1.3, §1.4, §11.2).

    Parameters
    ----------
    data : ImageData
    regimes : sequence of Replace, FreshData or Accumulate
    num_generations : int
        G (default 5).
    num_replicates : int
        Chains per regime (default 3).
    config : VAEConfig, optional
    num_samples : int, optional
        N (default: the number of real training images).
    seed : int or SeedSequence
        Root seed; each regime gets its own child stream.
    progress : bool
        One line per generation on stderr.
    theory_replicates : int
        Simulated Wright–Fisher chains of the entropy band.

    Returns
    -------
    PaperRun
    """
    probe = Probe.fit(data)
    results, predictions, drift = {}, {}, {}
    for regime, child in zip(regimes, as_seed_sequence(seed).spawn(len(regimes)), strict=True):
        label = regime_label(regime)
        run = simulate(
            data,
            num_generations,
            regime=regime,
            config=config,
            num_samples=num_samples,
            num_replicates=num_replicates,
            seed=child,
            progress=progress,
            probe=probe,
        )
        results[label] = run
        p0 = run.class_frequencies[:, 0].mean(axis=0)
        predictions[label] = class_chain_prediction(
            p0,
            run.num_samples,
            run.generations,
            regime,
            num_replicates=theory_replicates,
            seed=child.spawn(1)[0],
        )
        if run.num_replicates >= 2 and num_generations >= 1:
            drift[label] = drift_test(run.class_frequencies, run.num_samples, regime)
    return PaperRun(results, predictions, drift)
