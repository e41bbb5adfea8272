"""The claims suite: the seed article's claims as experiments with verdicts.

`experiments/*.py` hold the configs (each docstring states its metric and
verdict rule before any run); `lnexp.claims.verdicts` applies those rules to
the results; `lnexp.claims.report` writes experiments/REPORT.md;
`python -m lnexp.claims` runs it all.
"""
