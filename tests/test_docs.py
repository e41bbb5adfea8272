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
