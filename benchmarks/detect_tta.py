"""Test-time flip averaging and whole-pixel snapping of a trained detector (issue 25, items 2 and 3).

Scores one detect checkpoint's best.pt, per image, in five ways: as trained (boxes snapped to whole pixels,
the default), unsnapped, averaged over the 4 mirror images (`FlipAverage`) snapped and unsnapped, and averaged
with boxes mirrored about 100 instead of the labels' axis (`FLIP_AXIS`, a check of the convention). For each
folder: colour sets, centre error (px) and mean IoU with a 95 % bootstrap interval over images, the signed
mean centre offset (x, y), and paired comparisons (flip vs plain, snap vs not).

Decide on a part you do not report (`--decide FOLDER:valid`, the training set's validation split) and
report on the others (a fresh simulated set, the real images, all their images with `:`).

usage: python benchmarks/detect_tta.py --checkpoint RUN/best.pt --decide DATA:valid \\
           --report REAL:: --report FRESH:: [--max-items 900] [--json out.json]
"""
import argparse, json
import numpy as np
import torch
from torch.utils.data import DataLoader
from balldetect.core import N_BALLS, save_json
from balldetect.detector import FlipAverage
from balldetect.evaluate import eval_dataset
from balldetect.learner import get_preds
from balldetect.metrics import (as_numpy, bootstrap_interval, box_centres, detection_metrics, paired_comparison,
                                paired_iou)
from balldetect.models import load_model

METRICS = ('colour_set', 'centre_err_px', 'iou')
COMPARISONS = (('flip', 'plain'), ('flip_raw', 'raw'), ('raw', 'plain'), ('flip_raw', 'flip'), ('flip_raw', 'plain'),
               ('flip', 'flip_about_100'))


def per_image(probs, bp, presence, bt) -> dict:
    "Per image `(N,)`: colour set right (0/1), mean centre error (px) and mean IoU over its present balls."
    probs, bp, pres, bt = map(as_numpy, (probs, bp, presence, bt))
    present = pres > 0.5
    top = np.argsort(-probs, axis=1, kind='stable')[:, :N_BALLS]
    pred_set = np.zeros_like(present)
    np.put_along_axis(pred_set, top, True, axis=1)
    err = np.linalg.norm(box_centres(bp) - box_centres(bt), axis=-1)
    n = present.sum(1)
    offset = np.where(present[..., None], box_centres(bp) - box_centres(bt), 0).sum(1) / n[:, None]
    return dict(colour_set=(pred_set == present).all(1).astype(float), centre_err_px=(err * present).sum(1) / n,
                iou=(paired_iou(bp, bt) * present).sum(1) / n, offset=offset)


def variants(model) -> dict:
    "name -> (module to predict with, snap): the five ways of scoring `model`."
    return dict(plain=(model, True), raw=(model, False), flip=(FlipAverage(model), True),
                flip_raw=(FlipAverage(model), False),
                flip_about_100=(FlipAverage(model, axis=(100., 100.)), True))


def score_folder(model, folder:str, indices=None, split:str='test', max_items=None, bs:int=256) -> dict:
    "Per-variant intervals, offsets and paired comparisons on the images of `folder`."
    ds = eval_dataset('detect', folder, indices, split, max_items)
    out, per = dict(folder=folder, items=f'indices {indices}' if indices else f'split {split}', n_images=len(ds)), {}
    for name, (m, snap) in variants(model).items():
        model.snap = snap
        (probs, boxes), (presence, bt) = get_preds(m, DataLoader(ds, bs), n_inp=1)
        per[name] = per_image(probs, boxes, presence, bt)
        agg = detection_metrics(probs, boxes, presence, bt)   # the project's metric, for a consistency check
        assert np.isclose(per[name]['centre_err_px'].mean(), agg['centre_err_px']), name
        out[name] = {k: bootstrap_interval(per[name][k]) for k in METRICS}
        out[name]['offset_xy_px'] = [round(float(v), 3) for v in per[name]['offset'].mean(0)]
    model.snap = True
    with np.errstate(divide='ignore', invalid='ignore'):   # ratios of zero means
        out['paired'] = {f'{a} - {b}': {k: paired_comparison(per[a][k], per[b][k]) for k in METRICS[1:]}
                         for a, b in COMPARISONS}
    return out


def fmt(iv:dict, pct:bool=False) -> str:
    "`mean [lo, hi]`."
    f = (lambda v: f'{100 * v:.1f} %') if pct else (lambda v: f'{v:.3f}')
    return f"{f(iv['mean'])} [{f(iv['lo'])}, {f(iv['hi'])}]"


def print_folder(res:dict):
    "The table and the paired comparisons of one folder."
    print(f"\n{res['folder']} ({res['items']}, {res['n_images']} images)")
    print(f"{'':16}{'colour sets':>28}{'centre error px':>26}{'mean IoU':>26}  offset x, y px")
    for name in variants(None):
        r = res[name]
        print(f"{name:16}{fmt(r['colour_set'], True):>28}{fmt(r['centre_err_px']):>26}{fmt(r['iou']):>26}"
              f"  {r['offset_xy_px']}")
    for pair, cmp in res['paired'].items():
        print(f"  {pair:26}" + '  '.join(f"{k} {c['diff']:+.4f} [{c['lo']:+.4f}, {c['hi']:+.4f}] {c['verdict']}"
                                          for k, c in cmp.items()))


def parse_folder(spec:str) -> tuple:
    "`FOLDER:valid` (a split part) or `FOLDER::` / `FOLDER:a:b` (indices) -> (folder, indices, split)."
    folder, _, sel = spec.partition(':')
    if sel in ('train', 'valid', 'test'): return folder, None, sel
    return folder, sel or ':', 'test'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--checkpoint', required=True, help='best.pt of a detect training run')
    p.add_argument('--decide', action='append', default=[], help='FOLDER:part to choose on (not reported)')
    p.add_argument('--report', action='append', default=[], help='FOLDER:indices to report (e.g. real::)')
    p.add_argument('--max-items', type=int, help='at most this many images per folder')
    p.add_argument('--json', help='write every number to this file')
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    model, ck = load_model(a.checkpoint, 'detect')
    res = dict(checkpoint=a.checkpoint, arch=ck['config']['arch'], decide=[], report=[])
    for kind in ('decide', 'report'):
        for spec in getattr(a, kind):
            folder, indices, split = parse_folder(spec)
            r = score_folder(model, folder, indices, split, a.max_items)
            print(f'[{kind}]', end='')
            print_folder(r)
            res[kind].append(r)
    if a.json: save_json(res, a.json)


if __name__ == '__main__': main()
