"""Writes OUT/REPORT.md: per claim the article's sentence, the experiment and its
rule, the evidence (tables, figures) and the verdict the rule gives
(docs/claims-analysis.md)."""
from __future__ import annotations

import datetime
import inspect
import os
import platform
import re
from typing import NamedTuple

from lnexp.analysis import results
from lnexp.claims import audit, catalog, evidence, rules, scoring
from lnexp.claims.catalog import workdir as experiment_workdir
from lnexp.measure import labels
from lnexp.runtime import storage

SEED_ARTICLE = 'the seed article (experiments/seed-article.txt)'


def design(module) -> str:
  """Its docstring's paragraphs between the command and the metric, RUNTIME
  after the first."""
  paragraphs = inspect.cleandoc(module.__doc__ or '').split('\n\n')[2:]
  ends = [i for i, p in enumerate(paragraphs) if p.startswith('Metric')]
  paragraphs = paragraphs[:ends[0] if ends else 1]
  text = ' '.join(paragraphs[:1] + [getattr(module, 'RUNTIME', '')] + paragraphs[1:])
  return ' '.join(text.split())


def claims(runs: dict[str, catalog.Run]) -> dict[str, tuple[catalog.Run, catalog.Claim]]:
  """Every claim of the judged runs by key, in report order."""
  found = {key: (run, claim) for run in runs.values() if run.judged
           for key, claim in getattr(run.module, 'CLAIMS', {}).items()}
  return dict(sorted(found.items(), key=lambda kv: catalog.claim_order(kv[0])))


def write_board(out: str, suite: str, point_ids: dict[str, list[str]],
                runs: dict[str, catalog.Run]) -> str:
  """OUT/SUITE.md (NORMBENCH.md) from the judged run's `analyse` and `board`,
  or what is left to run."""
  (name, run), = [(n, r) for n, r in runs.items() if r.judged and n in point_ids]
  ran = {n: os.path.isfile(os.path.join(experiment_workdir(out, n), 'results.jsonl'))
         for n in point_ids}
  left = {n: len(ids) - len(results.load_results(experiment_workdir(out, n))
                             .query('point_id in @ids')) if ran[n] else len(ids)
          for n, ids in point_ids.items()}
  done = all(ran.values()) and not any(left.values())
  status = ('Every planned point finished.' if done else 'Not finished: ' + ', '.join(
      f'{n} {k} of {len(point_ids[n])} points left' if ran[n] else f'{n} not run'
      for n, k in left.items()) + '.')
  findings = ([] if not done else
              run.module.analyse(experiment_workdir(out, name),
                                 os.path.join(out, 'figures', name), point_ids[name]))
  path = os.path.join(out, f'{suite.upper()}.md')
  storage.write_text(path, run.module.board(out, findings, status) if findings else
                     f'# {suite}\n\n{status}\n')
  return path


def write(out: str, size: str, point_ids: dict[str, list[str]],
          runs: dict[str, catalog.Run], experiments: str) -> str:
  """Analyses every finished run of `point_ids` (name -> the ids its sweep
  plans; other rows are ignored); writes OUT/REPORT.md."""
  findings, status, total_s, frames = {}, [], 0.0, {}
  for name, ids in point_ids.items():
    workdir = experiment_workdir(out, name)
    if not os.path.isfile(os.path.join(workdir, 'results.jsonl')):
      status.append([name, '0', '-', 'not run'])
      continue
    df = results.load_results(workdir)
    df = df[df['point_id'].isin(ids)]
    missing = len(ids) - len(df)
    seconds = df.groupby('group')['wall_s'].first().sum()
    total_s += seconds
    status.append([name, str(len(df)), str(missing), f'{seconds / 60:.1f} min'])
    if not missing:  # the suite-wide checks, tuning stages included
      frames[name] = audit.load(workdir, ids)
    if missing or not runs[name].judged:
      continue  # a verdict never rests on a partial grid, nor on a tuning stage
    for finding in runs[name].module.analyse(workdir, os.path.join(out, 'figures', name),
                                             ids):
      findings[finding.claim] = finding
  status.append(['total', '', '', f'{total_s / 60:.1f} min'])
  path = os.path.join(out, 'REPORT.md')
  storage.write_text(path, _markdown(out, size, findings, status, runs,
                                     os.path.join(experiments, 'coverage.py'), frames))
  return path


def _command(run: catalog.Run) -> str:
  return f'experiments/{run.stem}.py' + (
      f':core@experiments/results/{run.tuned_by}' if run.tuned_by else '')


def reading() -> str:
  """The report's "How a verdict is read" paragraph."""
  return ('**How a verdict is read.** A rule compares two variants over the same seeds: '
          'the per-seed difference d is oriented so that positive is what the article '
          'predicts; its 95% paired t-interval against the rule\'s minimum effect δ gives '
          '*supported* (interval above +δ), *contradicted* (below −δ), *no effect* (inside '
          '±δ) or *inconclusive* (straddles ±δ, a missing pair, or a best LR at a grid '
          'edge); a rule of several comparisons gives their common outcome, or *mixed*. '
          'An LR-sensitivity comparison is judged under three scorings fixed with its rule: '
          + '; '.join(scoring.SCORINGS) + '. Its outcome is theirs where all three agree, '
          'else *fragile* (its table shows the three). Where a rule names its primary '
          'comparisons, they are one family adjusted by Holm-Bonferroni (an outcome whose '
          'adjusted p is ≥ 0.05 counts as inconclusive); the others are exploratory, marked '
          f'so, and decide nothing. Runs are labelled trained / {labels.definition()} / '
          'diverged; diagnostics compare trained runs only.')


def changes_section(runs: dict[str, catalog.Run]) -> list[str]:
  """The table of the judged experiments' CHANGES; nothing without any."""
  rows = [[f'`{run.stem}`', c.what, c.v3, c.v4, c.reason] for run in runs.values()
          if run.judged for c in getattr(run.module, 'CHANGES', ())]
  if not rows:
    return []
  return ['## What changed since v3 and why', '',
          'Each metric or rule changed since the v3 report (guide: no metric shopping), '
          'the v3 one beside it; the v3 verdicts are in that report (git history of '
          '`experiments/REPORT.md`).', '',
          evidence.table('', ['experiment', 'metric or rule', 'v3', 'v4', 'reason'],
                         rows).strip(), '']


def _markdown(out, size, findings, status, runs, coverage_path, frames=None) -> str:
  sections = claims(runs)
  now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
  md = [
      '# Layer normalization in an ALBERT-style GPT: the claims, tested',
      '',
      f'Made by `python -m lnexp.claims{"" if size == "core" else " --" + size}` on '
      f'{now} ({platform.machine()}, {os.cpu_count()} CPUs, Python '
      f'{platform.python_version()}). Each claim of {SEED_ARTICLE} is an experiment '
      'under `experiments/` whose docstring fixed the metric and the verdict rule '
      'before it ran; the verdicts below are those rules applied to the committed '
      'results (`experiments/results/NAME/results.jsonl`, one row per run), never '
      'tuned afterwards. Seeds vary both the initialization (`train.seed`) and the '
      'data (`data.seed`: order, and for synthetic data the language itself).',
      '',
      'Model (lnexp.claims.sizes): AlbertAGPT, 2 ALBERT-shared layers unless depth is '
      'the variable, hidden 64, 4 heads, MLP 256, tied embeddings, AdamW (b2 0.98), '
      'gradient clip 1, 5% linear warm-up then cosine decay to 10%, batch 16 x 64 '
      'tokens; residual-branch outputs initialised x 1/sqrt(2L) (GPT-2). Every '
      'variant gets a fair start: without a norm the embedding enters the stack x 0.1 '
      '(initial loss ~ln V, not ~2 ln V); ReZero (Bachlechner et al. 2020) and DeepNorm '
      '(Wang et al. 2022) are the norm-free and deep-post-LN baselines. Data, all '
      'offline: `topics` (synthetic documents, each from one of 4 latent Markov '
      'chains, so the best loss needs the context; its Bayes floor is exact), the '
      'synthetic order-1 Markov language (claim 7\'s variable-length documents) and '
      'CPython\'s reference docs (`python_docs`, bytes, 90/10 split).'
      ' Experiments with claims v4 rules (VERSION = 4) run the learned size '
      'instead (lnexp.claims.sizes.learned_config): hidden 128, MLP 512, 2,000 '
      'steps, 100 warm-up steps, an untied output layer initialised at zero, so '
      'every variant starts at exactly ln V; their designs say where they differ.',
      '',
      '**Scale.** This is a small-scale proxy: ~56k parameters and ~0.3M tokens per '
      'run (claims v4\'s learned size: ~0.21M and 2.0M), on CPU. Every verdict below '
      'holds at this scale only; no accelerator-scale run has been made yet '
      '(lnexp.claims.sizes).',
      '',
      reading(),
      '',
      '## Verdicts',
      '',
      evidence.table('', ['claim', 'the article says', 'verdict', 'effect'], [
          [c, claim.title, f'**{findings[c].verdict}**' if c in findings else 'not run',
           findings[c].effect if c in findings else '-']
          for c, (_, claim) in sections.items()]).strip(),
      '',
      'Literature checks (rules in the experiments\' docstrings):',
      '',
  ]
  for key in sorted(k for k in findings if '-' in k):
    md.append(f'- **{findings[key].verdict}**: {findings[key].effect}.')
  md += [''] + changes_section(runs)
  md += ['## Runs', '',
         'Compute is the sum of the wall times of each experiment\'s groups (compile '
         'included) on the machine above, from the result rows; with `--jobs N` '
         'N groups run at once, so the elapsed time is shorter (README: claims suite).',
         '',
         evidence.table('', ['experiment', 'points finished', 'missing', 'compute'],
                        status).strip(), '']
  if frames:
    md += audit.section(frames)
  for key, (run, claim) in sections.items():
    with open(run.path) as f:
      rule = rules.rule_text(f.read())
    md += [f'## Claim {key}: {claim.title}', '', f'> {claim.quote}', '',
           f'**Experiment** `experiments/{run.stem}.py` '
           f'(`python -m lnexp.run --config {_command(run)}`). {design(run.module)}', '',
           rules.citation(run.path, experiment_workdir(out, run.name),
                          f'results/{run.name}/{rules.RULES_JSON}'), '', rule, '']
    finding = findings.get(key)
    if finding is None:
      md += ['*Not run yet, or its grid is incomplete: no verdict.*', '']
      continue
    md += [f'**Verdict: {finding.verdict}.** {finding.effect}.', '']
    for t in finding.tables:
      md += [t, '']
    for fig in dict.fromkeys(finding.figures):
      rel = os.path.relpath(fig, out)
      md += [f'![{os.path.basename(fig)}]({rel})', '']
    for note in finding.notes:
      md += [f'- {note}', '']
  md += coverage_section(findings, runs, coverage_path)
  return '\n'.join(md) + '\n'


class Row(NamedTuple):
  """A row of the Coverage table: one claim of the article and what decides it."""
  heading: str             # the article's section it sits in
  quote: catalog.Quote
  experiment: str | None   # the file whose rule decides it (experiments/NAME.py)


def coverage(runs: dict[str, catalog.Run], path: str) -> tuple[list[Row], tuple[str, ...]]:
  """(rows, headings): the quotes of every experiment file and of the coverage
  file at `path`, in the order of the article beside it, each under its section."""
  table = catalog.load(path)
  with open(os.path.join(os.path.dirname(path), table.ARTICLE), encoding='utf-8') as f:
    lines = [' '.join(line.split()) for line in f if line.strip()]
  starts, at = {}, 0
  for line in lines:  # a heading is a line of its own
    if line in table.HEADINGS and line not in starts:
      starts[line] = at
    at += len(line) + 1
  text = ' '.join(lines)
  owner = {key: run.stem for key, (run, _) in claims(runs).items()}
  quotes = [q for run in runs.values() if run.judged
            for q in getattr(run.module, 'QUOTES', ())] + list(table.QUOTES)
  rows = []
  for where, q in sorted(((text.index(' '.join(q.text.split())), q) for q in quotes),
                         key=lambda wq: wq[0]):
    heading = max((h for h in table.HEADINGS if starts[h] <= where), key=starts.get)
    rows.append(Row(heading, q, owner[catalog.claim_key(q.finding)] if q.finding else None))
  return rows, table.HEADINGS


def _anchor(heading: str) -> str:
  """The link target GitHub gives a markdown heading."""
  return '#' + re.sub(r'[^\w\- ]', '', heading.lower()).replace(' ', '-')


def coverage_section(findings: dict, runs: dict[str, catalog.Run], path: str) -> list[str]:
  """The Coverage section: every claim of the article, what decides it or why
  nothing does, and where the article is wrong or loose."""
  if not os.path.isfile(path):
    return ['## Coverage', '', f'*No coverage table ({path} is absent).*', '']
  rows, headings = coverage(runs, path)
  sections, cells = claims(runs), []
  for r in rows:
    q = r.quote
    if q.finding:
      key = catalog.claim_key(q.finding)  # a literature check sits in its claim's section
      title = f'Claim {key}: {sections[key][1].title}'
      test = f'[`{r.experiment}`]({_anchor(title)}), finding {q.finding}'
      verdict = (f'**{findings[q.finding].verdict}**' if q.finding in findings
                 else 'no verdict yet')
    else:
      test, verdict = q.reason, 'not tested'
    cells.append([r.heading, f'“{q.text}”', test, verdict, q.note or '-'])
  tested = sum(r.experiment is not None for r in rows)
  return [
      '## Coverage', '',
      f'Every distinct claim of {SEED_ARTICLE}, quoted verbatim, under its section '
      f'heading ({len(rows)} claims in {len(headings)} sections: '
      f'{", ".join(f"*{h}*" for h in headings)}): {tested} are decided by an '
      'experiment\'s pre-registered rule (the verdict here; the evidence in the linked '
      f'section), {len(rows) - tested} are not tested, each with the reason. The '
      'last column says where the article is wrong or loose. Source: '
      '`experiments/coverage.py`.', '',
      evidence.table('', ['section', 'claim', 'tested by', 'verdict', 'note'],
                     cells).strip(), '']
