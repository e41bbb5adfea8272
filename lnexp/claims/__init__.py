"""The claims suite: the seed article's claims as experiments with verdicts.

Each `experiments/NAME.py` holds one claim's case: the article's words, the
sweep, the verdict rule (between `--- rule ID ---` markers in its docstring,
fixed before any run), the analysis that applies it and its figure.
`lnexp.claims.catalog` finds those files; `lnexp.claims.evidence`, `stats`,
`scoring` (LR sensitivity under three scorings) and `plots` are what the
analyses share; `lnexp.claims.audit` checks grid edges and initial losses
across the suite; `lnexp.claims.rules` hashes the rules and records the
commit that fixed them; `lnexp.claims.suite` runs the experiments and
`lnexp.claims.writeup` writes experiments/REPORT.md; `python -m lnexp.claims`
runs it all.
"""
