"""The package's import graph has no circles (deferred imports included)."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent / 'lnexp'


def _imports() -> dict[str, set[str]]:
  modules = {}
  for path in ROOT.rglob('*.py'):
    name = '.'.join(path.relative_to(ROOT.parent).with_suffix('').parts)
    modules[name.removesuffix('.__init__')] = path
  graph = {}
  for name, path in modules.items():
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):  # every import, deferred ones too
      if isinstance(node, ast.ImportFrom) and (node.module or '').startswith('lnexp'):
        found |= {f'{node.module}.{a.name}' if f'{node.module}.{a.name}' in modules
                  else node.module for a in node.names}
      elif isinstance(node, ast.Import):
        found |= {a.name for a in node.names if a.name.startswith('lnexp')}
    # A package importing its own submodules (lnexp.data -> lnexp.data.base) is fine.
    graph[name] = {d for d in found if d in modules and d != name
                   and not d.startswith(name + '.')}
  return graph


def test_no_import_circles():
  graph, cycles = _imports(), []

  def visit(node, path):
    for nxt in graph[node]:
      if nxt == path[0]:
        cycles.append(path)
      elif nxt not in path and len(path) < 8:
        visit(nxt, path + [nxt])
  for start in graph:
    visit(start, [start])
  assert not cycles, cycles[:3]
