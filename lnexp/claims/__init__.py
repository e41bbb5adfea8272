"""The claims suite: the seed article's claims as experiments with verdicts.

`experiments/*.py` hold the configs (each docstring states its metric and
verdict rule, between `--- rule ID ---` markers, before any run);
`lnexp.claims.analyses` applies those rules to the results;
`lnexp.claims.rules` hashes them and records the commit that fixed them;
`lnexp.claims.stats` holds the paired intervals and four outcomes rules use;
`lnexp.claims.report` writes experiments/REPORT.md; `python -m lnexp.claims`
runs it all.
"""
