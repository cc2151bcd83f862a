"""Detector runs side by side (issue 25, item 1: what more training buys): per folder, each run's colour sets,
centre error (px) and mean IoU with a 95 % bootstrap interval over images, its epochs and training time, and a
paired comparison of each run's centre error and IoU against the first run's.

Choose on the training set's validation split (`DATA:valid`); the real images (`REAL::`, every image) are
too few to choose on, and are reported beside it.

usage: python benchmarks/detect_runs.py --runs NAME=RUN_DIR ... --on datasets/sim:valid --on REAL:: [--json out.json]
A folder is `FOLDER:PART` (a part of its split.json) or `FOLDER::` (every image) or `FOLDER:a:b` (image ids).
"""
import argparse, json
from pathlib import Path
import torch
from balldetect.core import load_json, save_json
from balldetect.evaluate import eval_dataset, item_scores
from balldetect.metrics import bootstrap_interval, paired_comparison
from balldetect.models import load_model

METRICS = ('colour_set_acc', 'centre_err_px', 'mean_iou')


def items_of(spec:str):
    "The detect items that `FOLDER:PART`, `FOLDER::` or `FOLDER:a:b` names."
    folder, _, part = spec.partition(':')
    if part == ':': return eval_dataset('detect', folder, indices=':')
    if ':' in part: return eval_dataset('detect', folder, indices=part)
    return eval_dataset('detect', folder, split=part)


def run_record(run_dir) -> dict:
    "Epochs run, best epoch and training time of a run, from its metrics.json."
    m = load_json(Path(run_dir)/'metrics.json')
    return {k: m[k] for k in ('epochs_run', 'best_epoch', 'train_time_s', 'stop_reason')}


def compare(runs:dict, specs:list) -> dict:
    "Every number this script prints, as a dict (see the module docstring)."
    models = {name: load_model(Path(d)/'best.pt', 'detect')[0] for name, d in runs.items()}
    out = dict(runs={name: run_record(d) for name, d in runs.items()}, folders={})
    for spec in specs:
        ds = items_of(spec)
        scores = {name: item_scores(m, ds, 'detect')['model'] for name, m in models.items()}
        first = next(iter(scores))
        out['folders'][spec] = dict(
            n_items=len(ds),
            scores={name: {k: bootstrap_interval(s[k]) for k in METRICS} for name, s in scores.items()},
            paired={name: {k: paired_comparison(s[k], scores[first][k]) for k in METRICS[1:]}
                    for name, s in scores.items() if name != first})
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--runs', nargs='+', required=True, help='NAME=RUN_DIR; the first is the reference')
    p.add_argument('--on', action='append', required=True, help='FOLDER:PART, FOLDER:: or FOLDER:a:b')
    p.add_argument('--json')
    a = p.parse_args()
    torch.set_num_threads(1)
    res = compare(dict(s.split('=', 1) for s in a.runs), a.on)
    for name, r in res['runs'].items():
        print(f"{name}: {r['epochs_run']} epochs (best {r['best_epoch']}), {r['train_time_s']:.0f} s; {r['stop_reason']}")
    for spec, f in res['folders'].items():
        print(f"{spec}: {f['n_items']} images, mean [95 % bootstrap interval]")
        for name, s in f['scores'].items():
            print(f"  {name:12s} " + '  '.join(f"{k} {v['mean']:.4f} [{v['lo']:.4f}, {v['hi']:.4f}]" for k, v in s.items()))
        for name, c in f['paired'].items():
            print(f"  {name} - {next(iter(f['scores']))}: " +
                  '  '.join(f"{k} {v['diff']:+.4f} [{v['lo']:+.4f}, {v['hi']:+.4f}] {v['verdict']}" for k, v in c.items()))
    if a.json: save_json(res, a.json)


if __name__ == '__main__': main()
