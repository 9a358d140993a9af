"""VAE family (docs/theory.md §7.1, §11.2): speed of one digits generation and of ``vae-paper
--quick``, the latent std beside the paper's, FreshData and Accumulate, and the class histogram
against the K = 10 Wright–Fisher chain over several seeds.

Runs (scikit-learn's 8x8 digits, N = 1438, default VAEConfig: MLP, d = 8, Gaussian decoder
s = 0.2, 100 epochs, trained from scratch), G = 5 generations each:

- replace (R chains), fresh:0.2:mix and accumulate (R // 2 chains each);
- variants under replace: warm start from the previous weights; Bernoulli decoder.

``--save`` writes ``benchmarks/results/vae.{json,md}``; ``--table`` prints the tables docs/vae.md
quotes from them (running nothing). Run from the repository root::

    python -m benchmarks.bench_vae --save
    python benchmarks/bench_vae.py --table
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file (docs/vae.md quotes `--table`): find `benchmarks`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.common import RESULTS, _cell, write_report
from collapse_theory._stats import mean_se
from collapse_theory.regimes import Accumulate, FreshData, Replace
from collapse_theory.vae import (
    Probe,
    VAEConfig,
    class_chain_prediction,
    drift_test,
    load_digits,
    simulate,
)
from collapse_theory.vae.paper import PAPER_LATENT_STD


def time_one_generation(data, probe) -> dict[str, float]:
    """Wall time of generation 0 (train 100 epochs, sample, measure): first call (compiles) and
    the best of two more."""
    start = time.perf_counter()
    simulate(data, 0, seed=0, probe=probe)
    first = time.perf_counter() - start
    again = []
    for seed in (1, 2):
        start = time.perf_counter()
        simulate(data, 0, seed=seed, probe=probe)
        again.append(time.perf_counter() - start)
    return {"first_generation_s": first, "one_generation_s": min(again)}


def time_quick_cli() -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "collapse_theory", "vae-paper", "--quick", "--out", out],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


def rows_of(label, run, regime) -> list[dict]:
    p0 = run.class_frequencies[:, 0].mean(axis=0)
    pred = class_chain_prediction(p0, run.num_samples, run.generations, regime, seed=1)
    drift = drift_test(run.class_frequencies, run.num_samples, regime)
    std, std_se = mean_se(run.latent_std, axis=0)
    ent, ent_se = mean_se(run.class_entropy, axis=0)
    surv = run.surviving_classes.mean(axis=0)
    fr, fr_se = mean_se(run.frechet_pca, axis=0)
    elbo = run.test_elbo.mean(axis=-1).mean(axis=0)
    rows = []
    for k in run.generations:
        j = k - 1
        rows.append(
            {
                "run": label,
                "R": run.num_replicates,
                "gen": int(k),
                "latent_std": f"{std[k]:.3f} ± {std_se[k]:.3f}",
                "paper": PAPER_LATENT_STD[k] if k < len(PAPER_LATENT_STD) else "",
                "entropy": f"{ent[k]:.3f} ± {ent_se[k]:.3f}",
                "WF_entropy_5_95": f"{pred.entropy_band[k][0]:.3f}-{pred.entropy_band[k][1]:.3f}",
                "survivors": float(surv[k]),
                "WF_E_survivors": float(pred.expected_survivors[k]),
                "drift_ratio": "" if k == 0 else f"{drift.ratio[j]:.1f} ± {drift.ratio_se[j]:.1f}",
                "M_eff": "" if k == 0 else float(drift.effective_samples[j]),
                "z_max": "" if k == 0 else float(drift.z_max[j]),
                "spread_ratio": "" if k == 0 else float(drift.spread_ratio[j]),
                "frechet_pca": f"{fr[k]:.3f} ± {fr_se[k]:.3f}",
                "test_elbo": float(elbo[k]),
                "mean_pixel": float(run.mean_intensity[:, k].mean()),
            }
        )
    return rows, drift


def print_table() -> None:
    """The committed results as the two Markdown tables of docs/vae.md."""
    saved = json.loads((RESULTS / "vae.json").read_text())
    rows = saved["rows"]
    runs = list(dict.fromkeys(row["run"] for row in rows))
    reps = {row["run"]: row["R"] for row in rows}
    gens = sorted({row["gen"] for row in rows})
    print("| generation | paper (MNIST) | " + " | ".join(f"{r} (R={reps[r]})" for r in runs) + " |")
    print("|---|---|" + "---|" * len(runs))
    for k in gens:
        cells = [
            next(row["latent_std"] for row in rows if row["run"] == r and row["gen"] == k)
            for r in runs
        ]
        paper = saved["paper_latent_std"][k] if k < len(saved["paper_latent_std"]) else ""
        print(f"| {k} | {paper} | " + " | ".join(cells) + " |")
    print()
    print(
        "| run | generation | class entropy | Wright–Fisher 5–95 % | drift ratio | spread ratio "
        "| M_eff | z_max |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        if row["gen"] == 0 or row["run"] not in ("replace", "fresh:0.2:mix", "replace, Bernoulli"):
            continue
        m_eff = "" if row["M_eff"] is None else f"{row['M_eff']:.0f}"
        print(
            f"| {row['run']} | {row['gen']} | {row['entropy']} | {row['WF_entropy_5_95']} | "
            f"{row['drift_ratio']} | {row['spread_ratio']:.1f} | {m_eff or 'n/a'} | "
            f"{row['z_max']:.1f} |"
        )


def upsampled_digits():
    """The digits at the paper's 28x28: each pixel repeated 3x3, padded by 2."""
    from collapse_theory.vae import ImageData

    digits = load_digits()

    def big(x):
        return np.pad(np.kron(x, np.ones((3, 3), np.float32)), ((0, 0), (2, 2), (2, 2)))

    return ImageData(
        big(digits.train), big(digits.test), digits.train_labels, digits.test_labels, "digits-28"
    )


def run_conv28(out_dir: str, replicates: int, generations: int) -> None:
    """The paper's architecture (conv, 20 latents, 64 channels) on 28x28 upsampled digits
    (meant for a GPU); writes ``OUT_DIR/vae_conv28.json``."""
    import jax

    from collapse_theory._json import write_json

    data = upsampled_digits()
    probe = Probe.fit(data)
    config = VAEConfig(architecture="conv", latent_dim=20, capacity=64)
    rows, summary = [], {"device": str(jax.devices()[0]), "config": config.as_dict()}
    for i, (label, regime) in enumerate(
        (("replace", Replace()), ("fresh:0.2:mix", FreshData(0.2)))
    ):
        start = time.perf_counter()
        run = simulate(
            data,
            generations,
            regime=regime,
            config=config,
            num_replicates=replicates,
            seed=200 + i,
            probe=probe,
        )
        summary[f"{label}_seconds"] = time.perf_counter() - start
        summary[f"{label}_seconds_per_generation"] = float(np.median(run.seconds))
        new_rows, _ = rows_of(f"conv28 {label}", run, regime)
        rows += new_rows
        print(label, run.latent_std.mean(axis=0).round(3), summary[f"{label}_seconds"], flush=True)
    write_json(Path(out_dir) / "vae_conv28.json", {"rows": rows, **summary})


def merge_conv28(path: str) -> None:
    """Add a ``run_conv28`` result to ``results/vae.{json,md}`` (key ``conv28``)."""
    saved = json.loads((RESULTS / "vae.json").read_text())
    saved["conv28"] = json.loads(Path(path).read_text())
    extra = {k: v for k, v in saved.items() if k not in ("title", "rows", "environment")}
    write_report("vae", saved["title"], saved["rows"], extra)
    with (RESULTS / "vae.md").open("a") as handle:
        handle.write("\n## conv28: the paper's architecture on 28x28 digits\n\n")
        columns = list(saved["conv28"]["rows"][0])
        handle.write("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n")
        for row in saved["conv28"]["rows"]:
            handle.write("| " + " | ".join(_cell(row[c]) for c in columns) + " |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=10)
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--save", action="store_true")
    parser.add_argument(
        "--table", action="store_true", help="print the committed results' tables; run nothing"
    )
    parser.add_argument("--conv28-out", metavar="DIR", help="run only the conv 28x28 runs")
    parser.add_argument("--merge-conv28", metavar="FILE", help="merge a --conv28-out result")
    args = parser.parse_args()
    if args.table:
        print_table()
        return
    if args.conv28_out:
        run_conv28(args.conv28_out, args.replicates, args.generations)
        return
    if args.merge_conv28:
        merge_conv28(args.merge_conv28)
        return
    data = load_digits()
    probe = Probe.fit(data)
    timing = time_one_generation(data, probe)
    print(timing)
    half = max(2, args.replicates // 2)
    runs = [
        ("replace", Replace(), VAEConfig(), args.replicates),
        ("fresh:0.2:mix", FreshData(0.2), VAEConfig(), half),
        ("accumulate", Accumulate(), VAEConfig(), half),
        ("replace, warm start", Replace(), VAEConfig(init="previous"), half),
        ("replace, Bernoulli", Replace(), VAEConfig(decoder="bernoulli"), half),
    ]
    rows, last = [], {}
    for i, (label, regime, config, reps) in enumerate(runs):
        start = time.perf_counter()
        run = simulate(
            data,
            args.generations,
            regime=regime,
            config=config,
            num_replicates=reps,
            seed=100 + i,
            probe=probe,
        )
        print(f"{label}: {time.perf_counter() - start:.1f} s")
        new_rows, drift = rows_of(label, run, regime)
        rows += new_rows
        last[label] = {
            "mean_class_drift_last_generation": drift.mean_drift[-1].round(4).tolist(),
            "mean_class_drift_se_last_generation": drift.mean_drift_se[-1].round(4).tolist(),
            "class_frequencies_generation_0": run.class_frequencies[:, 0].mean(0).round(4).tolist(),
            "latent_std_by_generation": run.latent_std.mean(axis=0).round(4).tolist(),
            "latent_std_real_test": float(run.reference["latent_std_test"].mean()),
        }
        print(rows[-1])
    quick = time_quick_cli()
    print(f"vae-paper --quick: {quick:.1f} s")
    extra = {
        **timing,
        "vae_paper_quick_s": quick,
        "classifier_accuracy": probe.test_accuracy,
        "paper_latent_std": list(PAPER_LATENT_STD),
        "runs": last,
        "command": "python -m benchmarks.bench_vae --save",
    }
    if args.save:
        path = write_report("vae", "VAE trained on its own samples (8x8 digits)", rows, extra)
        print(f"wrote {path}")
    else:
        for row in rows:
            print(row)
        print(np.round(extra["one_generation_s"], 2))


if __name__ == "__main__":
    main()
