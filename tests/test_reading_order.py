"The start notebook's reading-order table lists every notebook once, in the order of their names (issue 23)."
import json
from pathlib import Path

NBS = Path(__file__).resolve().parent.parent/'nbs'
PATHS = ('start', 'core', 'fastai', 'search', 'report', 'cli', 'home')


def markdown(nb_path) -> str:
    return '\n'.join(''.join(c['source']) for c in json.loads(Path(nb_path).read_text())['cells']
                     if c['cell_type'] == 'markdown')


def reading_order(nb_path) -> list:
    "The (notebook, path) rows of the reading-order table in notebook `nb_path`."
    return [tuple(c.strip(' `') for c in line.split('|')[1:3]) for line in markdown(nb_path).splitlines()
            if line.startswith('| `')]


def test_table_lists_every_notebook_in_order():
    rows = reading_order(NBS/'000_start_here.ipynb')
    test_names = [name for name, _ in rows]
    assert test_names == sorted(p.stem for p in NBS.glob('*.ipynb'))


def test_paths_come_in_blocks():
    "Every path is a known one, and the branches follow the core in the order of PATHS."
    paths = [path for _, path in reading_order(NBS/'000_start_here.ipynb')]
    assert set(paths) == set(PATHS)
    ranks = [PATHS.index(p) for p in paths]
    assert ranks == sorted(ranks), paths   # one block per path, in the order of PATHS


def test_every_notebook_is_named_in_the_paths_text():
    text = markdown(NBS/'000_start_here.ipynb').split('### The core path')[1]
    missing = [name for name, path in reading_order(NBS/'000_start_here.ipynb')
               if path not in ('start', 'home') and f'`{name}`' not in text]
    assert not missing, missing


def test_start_notebook_opens_with_a_run():
    "Its first code cell runs the project, not a check of the notebook itself."
    cells = json.loads((NBS/'000_start_here.ipynb').read_text())['cells']
    first = next(''.join(c['source']) for c in cells if c['cell_type'] == 'code')
    assert 'balldetect' in first and 'json.loads' not in first, first[:200]
