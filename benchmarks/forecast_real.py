"""Forecasters on a folder of real sequences: each run's error with its 95 % bootstrap interval, the seed
ensemble, paired comparisons, the error breakdown and the multi-step rollout against the bounce baseline.

Runs are trained beforehand with `balldetect train --task forecast --data-dir FOLDER ...` (the split is the
folder's split.json, by sequence); this script only scores their best.pt. Choose on `--split valid`, and
report `--split test` once the choice is made.

usage: python benchmarks/forecast_real.py FOLDER --runs NAME=RUN_DIR[,RUN_DIR...] ... [--split valid|test]
       [--obs 10] [--horizon 10] [--json out.json]
A NAME with several run folders (seeds) scores each, their mean and range, and their ensemble (the mean of
their forecasts).
"""
import argparse, json
from pathlib import Path
import numpy as np
import torch
from balldetect.baselines import const_velocity_bounce, rollout
from balldetect.forecaster import rollout_model
from balldetect.metrics import bootstrap_interval, error_breakdown, forecast_item_errors, paired_comparison
from balldetect.models import load_model
from balldetect.datasets import get_datasets


def rollout_errors(pred, seq) -> np.ndarray:
    "Per item and horizon `(N, H)`: the px^2 error of rollouts `pred (N, H, 3, 4)` against `seq (N, H, 3, 4)`."
    return ((pred - seq) ** 2).mean((2, 3))


def horizon_table(per_horizon:dict) -> list:
    "Rows (horizon, name, mean, lo, hi) from `name -> (N, H)` errors."
    rows = []
    for name, err in per_horizon.items():
        for h in range(err.shape[1]):
            iv = bootstrap_interval(err[:, h])
            rows.append(dict(horizon=h + 1, name=name, **iv))
    return rows


def score(folder, runs:dict, split:str='test', n_obs:int=10, horizon:int=10) -> dict:
    "Every number this script prints, as a dict (see the module docstring)."
    obs, colours, target = get_datasets(folder, 'forecast')[split].tensors()
    obs, colours, target = obs.float(), colours.float(), target.float()
    seq = torch.cat([obs, target[:, None]], 1)                               # (N, 20, 3, 4)
    bounce = const_velocity_bounce(obs).numpy()
    items = {'const_velocity_bounce': forecast_item_errors(bounce, target)}
    preds, seeds = {}, {}
    models = {name: [load_model(Path(d)/'best.pt', 'forecast')[0] for d in dirs] for name, dirs in runs.items()}
    for name, dirs in runs.items():
        each = [rollout_model(m, obs, colours, 1)[:, 0].numpy() for m in models[name]]   # the next step
        seeds[name] = [bootstrap_interval(forecast_item_errors(p, target)) for p in each]
        preds[name] = np.mean(each, 0)
        items[name if len(dirs) == 1 else f'{name} (ensemble of {len(dirs)})'] = forecast_item_errors(preds[name], target)
    out = dict(split=split, n_items=len(target), scores={k: bootstrap_interval(v) for k, v in items.items()},
               seeds={k: dict(each=v, mean=float(np.mean([s['mean'] for s in v])),
                              min=float(min(s['mean'] for s in v)), max=float(max(s['mean'] for s in v)))
                      for k, v in seeds.items()})
    names = list(items)
    out['paired'] = [dict(a=a, b=b, **paired_comparison(items[a], items[b])) for i, a in enumerate(names)
                     for b in names[i + 1:]]
    out['breakdown'] = {k: error_breakdown(p, seq.numpy()) for k, p in [('const_velocity_bounce', bounce), *preds.items()]}
    roll = {'const_velocity_bounce': rollout(const_velocity_bounce, obs[:, :n_obs], horizon).numpy()}
    for name, each in models.items():
        roll[name] = np.mean([rollout_model(m, obs[:, :n_obs], colours, horizon).numpy() for m in each], 0)
    truth = seq[:, n_obs:n_obs + horizon].numpy()
    out['rollout'] = dict(n_obs=n_obs, rows=horizon_table({k: rollout_errors(v, truth) for k, v in roll.items()}))
    return out


def parse_runs(specs) -> dict:
    "`NAME=DIR[,DIR...]` strings as `name -> [dirs]`."
    runs = {}
    for spec in specs:
        name, _, dirs = spec.partition('=')
        runs[name] = dirs.split(',')
    return runs


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('folder')
    p.add_argument('--runs', nargs='+', required=True)
    p.add_argument('--split', default='test', choices=('valid', 'test'))
    p.add_argument('--obs', type=int, default=10)
    p.add_argument('--horizon', type=int, default=10)
    p.add_argument('--json')
    a = p.parse_args()
    torch.set_num_threads(1)
    res = score(a.folder, parse_runs(a.runs), a.split, a.obs, a.horizon)
    print(f"{res['split']} split, {res['n_items']} sequences: px^2, mean [95 % bootstrap interval]")
    for name, iv in res['scores'].items(): print(f"  {name:40s} {iv['mean']:.4f} [{iv['lo']:.4f}, {iv['hi']:.4f}]")
    for name, s in res['seeds'].items():
        if len(s['each']) > 1: print(f"  {name}: {len(s['each'])} seeds, mean {s['mean']:.4f}, range {s['min']:.4f}-{s['max']:.4f}")
    for c in res['paired']:
        print(f"  {c['a']} vs {c['b']}: diff {c['diff']:+.4f} [{c['lo']:+.4f}, {c['hi']:+.4f}], {c['verdict']}")
    if a.json: Path(a.json).write_text(json.dumps(res, indent=1))


if __name__ == '__main__': main()
