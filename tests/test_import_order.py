"Every module imports only modules exported by earlier notebooks (issue 10)."
import ast, json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def notebook_order() -> dict:
    "module name -> position of the notebook that exports it (notebooks sort by name)."
    order = {}
    for i, nb in enumerate(sorted((ROOT/'nbs').glob('*.ipynb'))):
        for cell in json.loads(nb.read_text())['cells']:
            m = re.match(r'#\|\s*default_exp\s+(\S+)', ''.join(cell['source']))
            if m: order[m.group(1)] = i
    return order


def imported_modules(source:str) -> set:
    "The balldetect modules `source` imports: `from .x`, `balldetect.x`, `from balldetect import x`, import_module strings."
    names, tree = set(), ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ''
            if node.level == 1: names.add(mod.split('.')[0] if mod else None)
            elif mod == 'balldetect': names |= {a.name for a in node.names}
            elif mod.startswith('balldetect.'): names.add(mod.split('.')[1])
            if node.level == 1 and not mod: names |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name.split('.')[1] for a in node.names if a.name.startswith('balldetect.')}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if m := re.fullmatch(r'balldetect\.(\w+)', node.value): names.add(m.group(1))
    return names - {None}


def test_modules_import_only_earlier_notebooks():
    order = notebook_order()
    late = []
    for py in sorted((ROOT/'balldetect').glob('*.py')):
        if py.stem not in order: continue  # __init__, _modidx
        for name in imported_modules(py.read_text()):
            if name in order and order[name] > order[py.stem]: late.append(f'{py.stem} imports {name}')
    assert not late, late


# the start notebook is a tour of the finished project: it runs a little of every notebook on purpose
TOURS = {'000_start_here'}

def test_notebook_cells_import_only_earlier_notebooks():
    "Demo and test cells too: a reader running a notebook top to bottom meets no module he has not read yet."
    order, late = notebook_order(), []
    for i, nb in enumerate(sorted((ROOT/'nbs').glob('*.ipynb'))):
        if nb.stem in TOURS: continue
        for cell in json.loads(nb.read_text())['cells']:
            if cell['cell_type'] != 'code': continue
            source = '\n'.join(l for l in ''.join(cell['source']).splitlines() if not l.lstrip().startswith(('%', '!')))
            late += [f'{nb.stem} imports {name}' for name in imported_modules(source) if order.get(name, -1) > i]
    assert not late, late
