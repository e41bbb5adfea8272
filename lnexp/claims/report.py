"""Writes OUT/REPORT.md: per claim the article's sentence, the experiment and its
rule, the evidence (tables, figures) and the verdict the rule gives."""
from __future__ import annotations

import datetime
import importlib.util
import os
import platform
import re

from lnexp.analysis import results
from lnexp.claims import analyses, rules
from lnexp.claims.paths import TUNED_BY, experiment_file
from lnexp.claims.paths import workdir as experiment_workdir

SEED_ARTICLE = 'the seed article (../shared/seed/layer-normalization-albertagpt.txt)'

# claim -> (title, the article's words, experiment)
CLAIMS = {
    '1': ('Gradient flow', 'By standardizing activations within each layer, layer '
          'normalization helps maintain the gradients within a reasonable range during '
          'backpropagation.', 'depth'),
    '1b': ('Gradient scaling with depth (Xiong et al. 2020)', 'In transformer '
           'architectures, layer normalization is applied after the self-attention and '
           'feedforward sub-layers, ensuring that the gradients do not vary wildly '
           'between layers.', 'gradient_scaling'),
    '2': ('Learning-rate sensitivity', 'Experimental results from models like AlbertAGPT '
          'demonstrate that with layer normalization, training can proceed smoothly '
          'across a wider range of learning rates, reducing the trial-and-error process '
          'often associated with deep learning.', 'lr_sensitivity'),
    '3': ('Warm-up, initialization and batch size', 'Layer normalization also reduces '
          'sensitivity to hyperparameters such as learning rates, weight '
          'initialization, and batch sizes.', 'hyperparams'),
    '4': ('Error accumulation across depth', 'As information flows through the layers of '
          'a deep network, small errors can compound, leading to significant deviations '
          'in the model’s output. This problem, particularly acute in architectures with '
          'many layers, is alleviated by layer normalization.', 'depth'),
    '5': ('Internal covariate shift', 'Layer normalization addresses the issue of '
          'internal covariate shift—the change in the distribution of layer inputs as '
          'network parameters are updated. This shift forces the model to continually '
          'adapt to new data distributions, slowing down the training process.',
          'covariate_shift'),
    '6': ('Generalization and regularization', 'Layer normalization has an implicit '
          'regularization effect, which can enhance the generalization of neural '
          'networks.', 'generalization'),
    '7': ('LayerNorm vs BatchNorm on variable-length text', 'BatchNorm normalizes '
          'activations using statistics computed across the entire batch, making it less '
          'effective in sequential tasks where each input can differ significantly in '
          'size or structure. [...] This independence allows for more reliable training, '
          'particularly in low-resource settings where batch sizes cannot be '
          'guaranteed.', 'batchnorm_text'),
    '8': ('LSTMs: covariate shift and hidden-state variance', 'For example, in recurrent '
          'neural networks (RNNs) like LSTMs, where hidden state dynamics evolve over '
          'time, LayerNorm can dramatically reduce the covariate shift, stabilizing the '
          'learning process. [...] Without normalization, the hidden states can exhibit '
          'high variance across time, complicating the learning of long-term '
          'dependencies. [...] This results in more efficient training, as evidenced by '
          'faster convergence rates', 'lstm_covariate_shift'),
    '9': ('CNNs: activation growth with depth', 'Without normalization, the activations '
          'of deeper layers can grow disproportionately, leading to sharp gradients that '
          'destabilize the training. LayerNorm mitigates this by maintaining consistent '
          'activations across all neurons in each layer, thereby reducing the potential '
          'for error accumulation.', 'cnn_depth'),
    '10': ('Embedding scale', 'For instance, in NLP models using transformers, embedding '
           'layers produce outputs that need to be scaled appropriately for subsequent '
           'attention layers.', 'embedding_scale'),
    '10b': ('LayerNorm absorbs the embedding scale', 'LayerNorm maintains these '
            'activations within a range conducive to stable training.', 'embedding_scale'),
    '11': ('Parameter sharing and LR sensitivity', 'For instance, in AlbertAGPT, which '
           'scales down the parameters while retaining performance, LayerNorm ensures that '
           'the smaller parameter space does not lead to overly aggressive learning rates '
           'or unstable gradient magnitudes.', 'sharing'),
    '12': ('Variable-length text without a norm', 'For example, during the training of '
           'AlbertAGPT on large-scale datasets, the variability in sentence length and '
           'structure can cause instability if not properly managed. Layer normalization '
           'ensures that each token’s contextual representation is scaled appropriately, '
           'allowing the model to maintain a steady learning rate and prevent divergence, '
           'even when dealing with complex input sequences.', 'variable_length'),
    '13': ('Gain and bias; what does the work (Xu et al. 2019)', 'This approach allows the '
           'model to retain the expressiveness of its activations while maintaining stable '
           'distributions during training.', 'mechanism'),
}
ORDER = ('1', '1b', '2', '3', '4', '5', '6', '7', '8', '9', '10', '10b', '11', '12', '13')


def experiment_doc(experiments: str, name: str) -> tuple[str, str]:
  """(summary paragraph, verdict rule) of experiments/NAME.py's docstring; the
  rule is the text of its `--- rule ID ---` blocks (lnexp.claims.rules)."""
  with open(experiment_file(experiments, name)) as f:
    source = f.read()
  paragraphs = rules.docstring(source).split('\n\n')
  summary = ' '.join(paragraphs[2].split()) if len(paragraphs) > 2 else ''
  return summary, rules.rule_text(source)


def write(out: str, size: str, point_ids: dict[str, list[str]], experiments: str) -> str:
  """Analyses every finished experiment of `point_ids` (name -> the ids its
  current sweep plans; rows of other points are ignored); writes OUT/REPORT.md."""
  findings, status, total_s = {}, [], 0.0
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
    if missing:
      continue  # a verdict never rests on a partial grid
    for finding in analyses.ANALYSES[name](workdir, os.path.join(out, 'figures', name),
                                           ids):
      findings[finding.claim] = finding
  status.append(['total', '', '', f'{total_s / 60:.1f} min'])
  path = os.path.join(out, 'REPORT.md')
  with open(path + '.tmp', 'w') as f:
    f.write(_markdown(out, size, findings, status, experiments))
  os.replace(path + '.tmp', path)
  return path


def _command(name: str) -> str:
  tuner = TUNED_BY.get(name)
  return (f'experiments/{name}.py' if tuner is None else
          f'experiments/{name}.py:core@experiments/results/{tuner}')


def _markdown(out, size, findings, status, experiments) -> str:
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
      'CPython\'s reference docs (`python_docs`, bytes, 90/10 split).',
      '',
      '**Scale.** This is a small-scale proxy: ~56k parameters and ~0.3M tokens per '
      'run, on CPU. Every verdict below holds at this scale only; no '
      'accelerator-scale run has been made yet (lnexp.claims.sizes).',
      '',
      '**How a verdict is read.** A rule compares two variants over the same seeds: '
      'the per-seed difference d is oriented so that positive is what the article '
      'predicts; its 95% paired t-interval against the rule\'s minimum effect δ gives '
      '*supported* (interval above +δ), *contradicted* (below −δ), *no effect* (inside '
      '±δ) or *inconclusive* (straddles ±δ, a missing pair, or a best LR at a grid '
      'edge); a rule of several comparisons gives their common outcome, or *mixed*. '
      'Runs are labelled trained / collapsed (finished at ≥ 90% of the unigram '
      'entropy: learned nothing) / diverged; diagnostics compare trained runs only.',
      '',
      '## Verdicts',
      '',
      analyses.table('', ['claim', 'the article says', 'verdict', 'effect'], [
          [c, CLAIMS[c][0], f'**{findings[c].verdict}**' if c in findings else 'not run',
           findings[c].effect if c in findings else '-'] for c in ORDER]).strip(),
      '',
      'Literature checks (rules in the experiments\' docstrings):',
      '',
  ]
  for key in sorted(k for k in findings if '-' in k):
    md.append(f'- **{findings[key].verdict}**: {findings[key].effect}.')
  md += ['', '## Runs', '',
         'Compute is the sum of the wall times of each experiment\'s groups (compile '
         'included) on the machine above, from the result rows; with `--jobs N` '
         'N groups run at once, so the elapsed time is shorter (README: claims suite).',
         '',
         analyses.table('', ['experiment', 'points finished', 'missing', 'compute'],
                        status).strip(), '']
  for claim in ORDER:
    title, quote, name = CLAIMS[claim]
    summary, rule = experiment_doc(experiments, name)
    md += [f'## Claim {claim}: {title}', '', f'> {quote}', '',
           f'**Experiment** `experiments/{name}.py` '
           f'(`python -m lnexp.run --config {_command(name)}`). {summary}', '',
           rules.citation(experiment_file(experiments, name), experiment_workdir(out, name),
                          f'results/{name}/{rules.RULES_JSON}'), '', rule, '']
    finding = findings.get(claim)
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
  md += coverage_section(findings, experiment_file(experiments, 'coverage'))
  return '\n'.join(md) + '\n'


# The article's claims and what tests each (a source checkout's experiments/coverage.py).
COVERAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'experiments', 'coverage.py')


def load_coverage(path: str = COVERAGE):
  """experiments/coverage.py as a module (experiments/ is not a package)."""
  spec = importlib.util.spec_from_file_location('lnexp_experiments_coverage', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _anchor(heading: str) -> str:
  """The link target GitHub gives a markdown heading."""
  return '#' + re.sub(r'[^\w\- ]', '', heading.lower()).replace(' ', '-')


def coverage_section(findings: dict, path: str = COVERAGE) -> list[str]:
  """The Coverage section: every claim of the article (experiments/coverage.py),
  the experiment whose rule decides it with that rule's verdict, or why it is
  not tested, and where the article is wrong or loose."""
  if not os.path.isfile(path):
    return ['## Coverage', '', f'*No coverage table ({path} is absent).*', '']
  coverage = load_coverage(path)
  rows, tested = [], 0
  for c in coverage.CLAIMS:
    if c.experiment:
      tested += 1
      key = c.finding.split('-')[0]  # a literature check sits in its claim's section
      title = f'Claim {key}: {CLAIMS[key][0]}'
      test = f'[`{c.experiment}`]({_anchor(title)}), finding {c.finding}'
      verdict = (f'**{findings[c.finding].verdict}**' if c.finding in findings
                 else 'no verdict yet')
    else:
      test, verdict = c.reason, 'not tested'
    rows.append([c.heading, f'“{c.quote}”', test, verdict, c.note or '-'])
  headings = ', '.join(f'*{h}*' for h in coverage.HEADINGS)
  return [
      '## Coverage', '',
      f'Every distinct claim of {SEED_ARTICLE}, quoted verbatim, under its section '
      f'heading ({len(coverage.CLAIMS)} claims in {len(coverage.HEADINGS)} sections: '
      f'{headings}): {tested} are decided by an experiment\'s pre-registered rule (the '
      'verdict here; the evidence in the linked section), '
      f'{len(coverage.CLAIMS) - tested} are not tested, each with the reason. The '
      'last column says where the article is wrong or loose. Source: '
      '`experiments/coverage.py`.', '',
      analyses.table('', ['section', 'claim', 'tested by', 'verdict', 'note'],
                     rows).strip(), '']
