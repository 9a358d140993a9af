"""``python -m collapse_theory``: the ``collapse-theory`` command line."""

import sys

from collapse_theory.cli import main

if __name__ == "__main__":
    sys.exit(main())
