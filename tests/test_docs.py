"""Every `lnexp.X` module path and `lnexp/...` file cited in the docs exists."""
import importlib
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = [ROOT / 'README.md', ROOT / 'experiments' / 'README.md',
        *sorted((ROOT / 'docs').rglob('*.md')), *sorted((ROOT / 'notebooks').glob('*.ipynb'))]
DOTTED = re.compile(r'\blnexp(?:\.[A-Za-z_]\w*)+')
FILE = re.compile(r'\blnexp/[\w/]+\.py\b')


def _resolves(dotted: str) -> bool:
  """Imports the longest module prefix, then looks the rest up as attributes."""
  parts = dotted.split('.')
  for cut in range(len(parts), 0, -1):
    try:
      obj = importlib.import_module('.'.join(parts[:cut]))
    except ModuleNotFoundError:
      continue
    for name in parts[cut:]:
      if not hasattr(obj, name):
        return False
      obj = getattr(obj, name)
    return True
  return False


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_cited_code_paths_exist(doc):
  text = doc.read_text()
  missing = sorted({d.rstrip('.') for d in DOTTED.findall(text) if not _resolves(d.rstrip('.'))})
  missing += sorted({f for f in FILE.findall(text) if not (ROOT / f).is_file()})
  assert not missing, f'{doc.name} cites what does not exist: {missing}'


NOT_PATHS = {'lnexp.ENTRY',    # the placeholder in `python -m lnexp.ENTRY`
             'lnexp.columns'}  # a Parquet schema-metadata key


def test_module_paths_in_the_code_exist():
  """Docstrings and comments cite modules too (lnexp.X, lnexp/X.py)."""
  sources = [*(ROOT / 'lnexp').rglob('*.py'), *(ROOT / 'experiments').glob('*.py'),
             *(ROOT / 'configs').glob('*.py')]
  missing = sorted({f'{p.relative_to(ROOT)}: {d.rstrip(".")}' for p in sources
                    for d in DOTTED.findall(p.read_text())
                    if d not in NOT_PATHS and not _resolves(d.rstrip('.'))} |
                   {f'{p.relative_to(ROOT)}: {f}' for p in sources
                    for f in FILE.findall(p.read_text()) if not (ROOT / f).is_file()})
  assert not missing, missing
