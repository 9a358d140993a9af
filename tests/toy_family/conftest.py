"""The toy family's modules register checks and figures when they are imported, so pytest's
doctest collection (``--doctest-modules``) must not import them behind the suite's back: only
``tests/test_toy_family.py`` brings them in, through ``collapse_theory.families.register``."""

collect_ignore_glob = ["bernoulli/*.py"]
