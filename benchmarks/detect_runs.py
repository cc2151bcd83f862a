"""Detector runs side by side (issue 25, item 1: what more training buys): per folder, each run's colour sets,
centre error (px) and mean IoU with a 95 % bootstrap interval over images, its epochs and training time, and a
paired comparison of each run's centre error and IoU against the first run's.

Choose on the training set's validation split (`DATA:valid`); the real images (`REAL::`, every image) are
too few to choose on, and are reported beside it.

usage: python benchmarks/detect_runs.py --runs NAME=RUN_DIR[,RUN_DIR...] ... --on datasets/sim:valid --on REAL::
       [--json out.json]
A folder is `FOLDER:PART` (a part of its split.json) or `FOLDER::` (every image) or `FOLDER:a:b` (image ids).
A NAME with several run folders (seeds) gets each seed's scores, their mean and range, and is paired through
the per-image mean over its seeds, and seed by seed where both names have as many seeds.
"""
import argparse
from pathlib import Path
import numpy as np
import torch
from balldetect.core import load_json, save_json
from balldetect.evaluate import eval_dataset, item_scores
from balldetect.metrics import bootstrap_interval, paired_comparison
from balldetect.models import load_model
from detect_tta import parse_folder
from forecast_real import parse_runs

METRICS = ('colour_set_acc', 'centre_err_px', 'mean_iou')


def run_record(run_dir) -> dict:
    "Epochs run, best epoch and training time of a run, from its metrics.json."
    m = load_json(Path(run_dir)/'metrics.json')
    return {k: m[k] for k in ('epochs_run', 'best_epoch', 'train_time_s', 'stop_reason')}


def seed_summary(seed_scores:list) -> dict:
    "Per metric: each seed's mean with its bootstrap interval, and the mean and range of the seeds' means."
    out = {}
    for k in METRICS:
        each = [bootstrap_interval(s[k]) for s in seed_scores]
        means = [e['mean'] for e in each]
        out[k] = dict(each=each, mean=float(np.mean(means)), min=float(min(means)), max=float(max(means)))
    return out


def compare(runs:dict, specs:list) -> dict:
    "Every number this script prints, as a dict (see the module docstring)."
    models = {name: [load_model(Path(d)/'best.pt', 'detect')[0] for d in dirs] for name, dirs in runs.items()}
    out = dict(runs={name: [run_record(d) for d in dirs] for name, dirs in runs.items()}, folders={})
    for spec in specs:
        ds = eval_dataset('detect', *parse_folder(spec))
        scores = {name: [item_scores(m, ds, 'detect')['model'] for m in each] for name, each in models.items()}
        first = next(iter(scores))
        seed_mean = {name: {k: np.mean([s[k] for s in each], 0) for k in METRICS} for name, each in scores.items()}
        paired = {}
        for name, each in scores.items():
            if name == first: continue
            paired[name] = {k: paired_comparison(seed_mean[name][k], seed_mean[first][k]) for k in METRICS[1:]}
            if len(each) > 1 and len(each) == len(scores[first]):
                paired[name]['by_seed'] = [{k: paired_comparison(a[k], b[k]) for k in METRICS[1:]}
                                           for a, b in zip(each, scores[first])]
        out['folders'][spec] = dict(n_items=len(ds), scores={name: seed_summary(each) for name, each in scores.items()},
                                    paired=paired)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--runs', nargs='+', required=True, help='NAME=RUN_DIR; the first is the reference')
    p.add_argument('--on', action='append', required=True, help='FOLDER:PART, FOLDER:: or FOLDER:a:b')
    p.add_argument('--json')
    a = p.parse_args()
    torch.set_num_threads(1)
    res = compare(parse_runs(a.runs), a.on)
    for name, records in res['runs'].items():
        for r in records:
            print(f"{name}: {r['epochs_run']} epochs (best {r['best_epoch']}), {r['train_time_s']:.0f} s; {r['stop_reason']}")
    pair = lambda c: '  '.join(f"{k} {v['diff']:+.4f} [{v['lo']:+.4f}, {v['hi']:+.4f}] {v['verdict']}" for k, v in c.items())
    for spec, f in res['folders'].items():
        print(f"{spec}: {f['n_items']} images; one seed: mean [95 % bootstrap interval], several: mean (range)")
        for name, s in f['scores'].items():
            one = len(s['centre_err_px']['each']) == 1
            show = lambda v: (f"{v['mean']:.4f} [{v['each'][0]['lo']:.4f}, {v['each'][0]['hi']:.4f}]" if one
                              else f"{v['mean']:.4f} ({v['min']:.4f}-{v['max']:.4f})")
            print(f"  {name:12s} " + '  '.join(f"{k} {show(v)}" for k, v in s.items()))
        first = next(iter(f['scores']))
        for name, c in f['paired'].items():
            print(f"  {name} - {first} (per image, mean over seeds): {pair({k: c[k] for k in METRICS[1:]})}")
            for i, cs in enumerate(c.get('by_seed', [])): print(f"    seed {i}: {pair(cs)}")
    if a.json: save_json(res, a.json)


if __name__ == '__main__': main()
