"""The claims suite: the seed article's claims as experiments with verdicts.

Each `experiments/NAME.py` holds one claim's case (experiments/README.md);
this package finds them (`catalog`), runs them (`suite`), gives the shared
pieces of their analyses (`evidence`, `stats`, `scoring`, `plots`) and
writes the report (`writeup`); `python -m lnexp.claims` runs it all.
"""
