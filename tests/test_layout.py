"""The package's shape: its import graph has no circles and never runs up a layer
(deferred imports included), and no arch or data-source name is tested as a string
outside its own module and the registries."""
import ast
import inspect
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


# Layers, bottom to top: a module imports only from its own layer or lower ones.
LAYERS = (('lnexp.errors', 'lnexp.cli', 'lnexp.config'), ('lnexp.data', 'lnexp.models'),
          ('lnexp.measure',), ('lnexp.runtime',), ('lnexp.train',), ('lnexp.analysis',),
          ('lnexp.claims',), ('lnexp.ops',),
          ('lnexp', 'lnexp.run', 'lnexp.report', 'lnexp.bench', 'lnexp.launch',
           'lnexp.merge', 'lnexp.claims.__main__'))


def layer(module: str) -> int:
  """The layer of a module: its own entry, else its package's (longest prefix)."""
  prefixes = [module.rsplit('.', i)[0] for i in range(module.count('.') + 1)]
  for name in prefixes:
    for level, names in enumerate(LAYERS):
      if name in names:
        return level
  raise AssertionError(f'{module} has no layer: add it to LAYERS')


def test_no_module_imports_a_higher_layer():
  upward = sorted(f'{m} (layer {layer(m)}) imports {d} (layer {layer(d)})'
                  for m, deps in _imports().items() for d in deps if layer(d) > layer(m))
  assert not upward, '\n'.join(upward)


def _string_tests(path: pathlib.Path, names: set[str]):
  """(line, name) of each comparison (==, !=, in, not in) with a literal in `names`."""
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Compare):
      for operand in (node.left, *node.comparators):
        items = operand.elts if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) \
            else [operand]
        for item in items:
          if isinstance(item, ast.Constant) and item.value in names:
            yield node.lineno, item.value


def test_no_arch_or_source_name_is_compared_outside_its_own_files():
  from lnexp.data import SOURCES
  from lnexp.models.archs import ARCHS
  registries = {ROOT / 'models' / 'archs.py', ROOT / 'data' / '__init__.py'}
  own = {name: pathlib.Path(inspect.getfile(arch.model)) for name, arch in ARCHS.items()}
  own.update({name: pathlib.Path(inspect.getfile(source.make))
              for name, source in SOURCES.items()})
  found = sorted(f'{path.relative_to(ROOT.parent)}:{line}: {name!r}'
                 for path in ROOT.rglob('*.py') if path not in registries
                 for line, name in _string_tests(path, set(own)) if path != own[name])
  assert not found, '\n'.join(found)
