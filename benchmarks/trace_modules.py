"""How a reader who follows `train(config)` through the code moves between modules (issue 23).

Runs one tiny training per task (a 4-sequence fixture, one epoch of one batch) under `sys.setprofile` and
keeps the first call of each balldetect function, in the order the run makes them: the order in which a
reader meets each function once. Consecutive functions of one module are one visit. It counts:
- modules: how many distinct modules the path enters;
- visits: how many times it enters a module (a change of module along the path);
- returns: visits to a module already visited before, other than the one just left;
- climbs: visits to a module whose notebook sorts before the one just left (an arrow back up).

With `--depth 3` it keeps only `train`, the functions it calls and the functions those call: what a reader
reads who follows `train`'s body two levels down, without the training loop's inner callbacks.

    python benchmarks/trace_modules.py [--depth N] [--json] [--path]
"""
import argparse, json, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT/'tests')]
PACKAGE = ROOT/'balldetect'


def notebook_rank() -> dict:
    "module name -> position of its notebook among the sorted notebooks."
    rank = {}
    for i, nb in enumerate(sorted((ROOT/'nbs').glob('*.ipynb'))):
        for cell in json.loads(nb.read_text())['cells']:
            src = ''.join(cell['source'])
            if src.startswith('#| default_exp'): rank[src.split()[2]] = i
    return rank


def package_depth(frame) -> int:
    "How many balldetect frames the stack holds at `frame`, itself included (`train` is 1)."
    depth = 0
    while frame is not None:
        depth += Path(frame.f_code.co_filename).parent == PACKAGE
        frame = frame.f_back
    return depth


def first_calls(run, max_depth:int|None=None) -> list:
    """(module, function) of each balldetect function in the order of its first call while `run()` runs,
    down to `max_depth` balldetect frames (None: all)."""
    seen, order = set(), []
    def profile(frame, event, arg):
        if event != 'call': return
        path = Path(frame.f_code.co_filename)
        if path.parent != PACKAGE or path.stem == '_modidx': return
        if max_depth and package_depth(frame) > max_depth: return
        key = (path.stem, frame.f_code.co_qualname)
        if key in seen: return
        seen.add(key)
        order.append(key)
    sys.setprofile(profile)
    try: run()
    finally: sys.setprofile(None)
    return order


def module_path(calls:list) -> list:
    "The modules along `calls`, one entry per visit (consecutive calls in one module merged)."
    path = []
    for module, _ in calls:
        if not path or path[-1] != module: path.append(module)
    return path


def path_counts(path:list, rank:dict) -> dict:
    "modules, visits, returns and climbs of a module path (see the docstring)."
    returns = sum(m in path[:i-1] for i, m in enumerate(path) if i > 0)
    climbs = sum(rank.get(m, 0) < rank.get(prev, 0) for prev, m in zip(path, path[1:]))
    return dict(modules=len(set(path)), visits=len(path), returns=returns, climbs=climbs)


def tiny_run(task:str, root:Path):
    "A function that trains `task` for one batch on the fixture under `root`."
    from balls_fixture import write_fixture
    from balldetect.train import train, train_config
    data = write_fixture(root/'data', n_seq=6)
    config = train_config(task=task, data_dir=str(data), out=str(root/f'run_{task}'), profile='smoke', epochs=1,
                          single_batch=True, progress=False, device='cpu', split='train=0:4,valid=4:5,test=5:6')
    return lambda: train(config)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--json', action='store_true', help='print the counts as JSON')
    parser.add_argument('--depth', type=int, default=None, help='follow calls this many balldetect frames deep (train is 1)')
    parser.add_argument('--path', action='store_true', help='print the module path of each task')
    args = parser.parse_args()
    rank, result = notebook_rank(), {}
    with tempfile.TemporaryDirectory() as tmp:
        for task in ('detect', 'forecast'):
            path = module_path(first_calls(tiny_run(task, Path(tmp)), args.depth))
            result[task] = path_counts(path, rank)
            if args.path: print(task, ' -> '.join(path))
    if args.json: print(json.dumps(result))
    else:
        for task, counts in result.items(): print(task, ' '.join(f'{k}={v}' for k, v in counts.items()))


if __name__ == '__main__': main()
