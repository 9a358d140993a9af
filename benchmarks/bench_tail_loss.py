"""Tail-loss rates over the default grid (issue 7; design.md goal 3).

Runs ``collapse_theory.tails.tail_loss_table`` (the grid of ``collapse-theory tail-loss``) and
writes ``results/tail_loss.md``, ``.csv``, ``.json`` (with the environment) and the figures
``docs/figures/tail_loss_{replace,regimes}.png``. The tables and summary of docs/tails.md are
printed from the JSON by ``python docs/examples/results_tables.py tail_loss``;
``tests/test_docs.py`` checks that the page shows what it prints, and after a rerun
``python tests/test_docs.py --update docs/tails.md`` rewrites them.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 -m benchmarks.bench_tail_loss
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from benchmarks.common import RESULTS, environment
from collapse_theory._json import dumps, write_json
from collapse_theory._validate import output_directory
from collapse_theory.tails.table import tail_loss_table, write_outputs

DOCS_FIGURES = Path(__file__).resolve().parent.parent / "docs" / "figures"
COMMAND = "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 -m benchmarks.bench_tail_loss"


def main() -> None:
    table = tail_loss_table(seed=0, progress=lambda line: print(line, file=sys.stderr))
    paths = write_outputs(table, RESULTS, command=COMMAND)
    meta = RESULTS / "tail_loss.json"
    payload = json.loads(meta.read_text())
    payload["environment"] = environment()
    write_json(meta, payload, indent=1)
    with open(RESULTS / "tail_loss.md", "a") as handle:
        handle.write("\nEnvironment: " + dumps(payload["environment"]) + "\n")
    output_directory("docs/figures", DOCS_FIGURES)
    for path in paths:  # the figures live in docs/figures (PNG); the PDFs are not kept
        if path.suffix == ".png":
            shutil.move(path, DOCS_FIGURES / path.name)
        elif path.suffix == ".pdf":
            path.unlink()
    print(f"{len(table.rows)} rows in {table.seconds:.0f} s; wrote {RESULTS / 'tail_loss.md'}")


if __name__ == "__main__":
    main()
