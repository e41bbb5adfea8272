"""notebooks/explore_results.ipynb runs top to bottom on the tiny sweep, and is committed clean."""
from __future__ import annotations

import os

import nbformat
from nbclient import NotebookClient

from tests.test_report import tiny_sweep  # noqa: F401  (the shared session fixture)

ROOT = os.path.dirname(os.path.dirname(__file__))
NOTEBOOK = os.path.join(ROOT, 'notebooks', 'explore_results.ipynb')


def test_committed_notebook_has_no_outputs():
  nb = nbformat.read(NOTEBOOK, as_version=4)
  nbformat.validate(nb)
  code = [c for c in nb.cells if c.cell_type == 'code']
  assert code and all(c.outputs == [] and c.execution_count is None for c in code)


def test_notebook_executes_on_the_tiny_sweep(tiny_sweep, monkeypatch):  # noqa: F811
  monkeypatch.setenv('LNEXP_WORKDIR', str(tiny_sweep))  # the kernel inherits it
  monkeypatch.setenv('MPLBACKEND', 'Agg')
  nb = nbformat.read(NOTEBOOK, as_version=4)
  NotebookClient(nb, timeout=120, kernel_name='python3',
                 resources={'metadata': {'path': os.path.join(ROOT, 'notebooks')}}).execute()
  text = ''.join(o.get('text', '') for c in nb.cells if c.cell_type == 'code'
                 for o in c.outputs)
  assert f'{tiny_sweep}: 3 finished points, 0 missing' in text
  assert not any(o.output_type == 'error' for c in nb.cells for o in c.get('outputs', []))


def test_the_readme_jupyter_command_has_an_extra_in_the_lock():
  """`pip install -c constraints.txt -e '.[notebook]'` gives `jupyter lab`, pinned."""
  import tomllib
  with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as f:
    extras = tomllib.load(f)['project']['optional-dependencies']
  assert any(d.startswith('jupyterlab') for d in extras['notebook'])
  with open(os.path.join(ROOT, 'constraints.txt')) as f:
    assert any(line.startswith('jupyterlab==') for line in f)
