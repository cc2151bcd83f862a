"""Test-time flip averaging and whole-pixel snapping of a trained detector (issue 25, items 2 and 3).

Scores one detect checkpoint's best.pt, per image, in eight ways, all from its predictions on the 4 mirror
images of each image: as trained (boxes snapped to whole pixels, the default); unsnapped; centres unsnapped
with whole-pixel sizes; averaged over the 4 mirror images (`FlipAverage`) snapped and unsnapped; averaged with
boxes mirrored about 100 instead of the labels' axis (`FLIP_AXIS`, a check of the convention); averaged with
each copy mirrored about an axis calibrated on the --decide part (so that each copy has the plain copy's mean
offset), snapped and unsnapped. For each folder: colour sets, centre error (px) and mean IoU with a 95 %
bootstrap interval over images, the signed mean centre offset (x, y) of each variant and each mirror copy,
and paired comparisons.

Decide on a part you do not report (`--decide FOLDER:valid`, the training set's validation split) and
report on the others (a fresh simulated set, the real images, all their images with `:`).

usage: python benchmarks/detect_tta.py --checkpoint RUN/best.pt --decide DATA:valid \\
           --report REAL:: --report FRESH:: [--max-items 900] [--json out.json]
"""
import argparse, json
import numpy as np
import torch
from torch.utils.data import DataLoader
from fastcore.test import test_close
from balldetect.core import BOX_MAX, BOX_MIN, N_BALLS, save_json
from balldetect.detector import FLIP_AXIS, FLIPS, FlipAverage, calibrate_axes, flip_boxes, flip_images
from balldetect.evaluate import eval_dataset
from balldetect.learner import get_preds
from balldetect.metrics import (as_numpy, bootstrap_interval, box_centres, detection_metrics, paired_comparison,
                                paired_iou)
from balldetect.models import load_model

METRICS = ('colour_set', 'centre_err_px', 'iou')
COMPARISONS = (('raw', 'plain'), ('whole_sizes', 'plain'), ('flip', 'plain'), ('flip_raw', 'raw'),
               ('flip_about_100', 'flip'), ('flip_calibrated', 'plain'), ('flip_calibrated_raw', 'raw'),
               ('flip_calibrated_raw', 'flip_calibrated'))


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


class Flipped(torch.nn.Module):
    "`model` on mirror image `flip` of its input, decoded without snapping (boxes in the mirrored frame)."
    def __init__(self, model, flip):
        super().__init__()
        self.model, self.flip = model, flip
    def forward(self, img): return self.model(flip_images(img, *self.flip))
    def decode(self, raw): return self.model.decode(raw, snap=False)


def flip_copies(model, ds, bs:int=256) -> tuple:
    "Per mirror image in `FLIPS`: probabilities `(N, 9)` and unsnapped boxes `(N, 9, 4)` in its frame; targets."
    out = [get_preds(Flipped(model, f), DataLoader(ds, bs), n_inp=1) for f in FLIPS]
    return [o[0] for o in out], out[0][1]


def flip_mean(copies, axes) -> tuple:
    "Mean probabilities and mean boxes of the copies mirrored back, copy `i` about `axes[i]`, clipped."
    probs = torch.stack([p for p, _ in copies]).mean(0)
    boxes = torch.stack([flip_boxes(b, *f, a) for (_, b), f, a in zip(copies, FLIPS, axes)]).mean(0)
    return probs, boxes.clamp(BOX_MIN, BOX_MAX)


def whole_sizes(boxes):
    "Boxes with their centres kept and their widths and heights rounded to whole pixels."
    c, wh = (boxes[..., :2] + boxes[..., 2:]) / 2, (boxes[..., 2:] - boxes[..., :2]).round()
    return torch.cat([c - wh / 2, c + wh / 2], -1)


def copy_offsets(copies, presence, bt) -> list:
    "Per copy: its mean centre offset (x, y) px from the labels once mirrored back about `FLIP_AXIS`."
    return [per_image(p, flip_boxes(b, *f), presence, bt)['offset'].mean(0) for (p, b), f in zip(copies, FLIPS)]


def variants(copies, axes) -> dict:
    "name -> (probs, boxes): the ways of scoring the model, from its 4 mirror copies."
    p0, b0 = copies[0]
    fl, fl100, flc = (flip_mean(copies, a) for a in ([FLIP_AXIS] * 4, [(100., 100.)] * 4, axes))
    return dict(plain=(p0, b0.round()), raw=(p0, b0), whole_sizes=(p0, whole_sizes(b0)),
                flip=(fl[0], fl[1].round()), flip_raw=fl, flip_about_100=(fl100[0], fl100[1].round()),
                flip_calibrated=(flc[0], flc[1].round()), flip_calibrated_raw=flc)


def score_folder(model, folder:str, indices=None, split:str='test', max_items=None, axes=None) -> dict:
    "Per-variant intervals, offsets and paired comparisons on the images of `folder`."
    ds = eval_dataset('detect', folder, indices, split, max_items)
    out, per = dict(folder=folder, items=f'indices {indices}' if indices else f'split {split}', n_images=len(ds)), {}
    copies, (presence, bt) = flip_copies(model, ds)
    out['copy_offsets_xy_px'] = [[round(float(v), 3) for v in o] for o in copy_offsets(copies, presence, bt)]
    axes = axes or calibrate_axes(model, DataLoader(ds, 256))
    out['calibrated_axes'] = [[round(float(v), 3) for v in a] for a in axes]
    vs = variants(copies, axes)
    for name, ax in (('flip', None), ('flip_calibrated', axes)):   # the same as the project's FlipAverage
        (_, bf), _ = get_preds(FlipAverage(model, axes=ax), DataLoader(ds.subset(ds.indices[:64]), 64), n_inp=1)
        test_close(bf, vs[name][1][:64], eps=1e-3)
    for name, (probs, boxes) in vs.items():
        per[name] = per_image(probs, boxes, presence, bt)
        agg = detection_metrics(probs, boxes, presence, bt)   # the project's metric, for a consistency check
        assert np.isclose(per[name]['centre_err_px'].mean(), agg['centre_err_px']), name
        out[name] = {k: bootstrap_interval(per[name][k]) for k in METRICS}
        out[name]['offset_xy_px'] = [round(float(v), 3) for v in per[name]['offset'].mean(0)]
    with np.errstate(divide='ignore', invalid='ignore'):   # ratios of zero means
        out['variants'] = list(vs)
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
    print(f"{'':20}{'colour sets':>28}{'centre error px':>26}{'mean IoU':>26}  offset x, y px")
    print(f"  mirror copies' mean offsets (x, y) px: {res['copy_offsets_xy_px']}; axes used {res['calibrated_axes']}")
    for name in res['variants']:
        r = res[name]
        print(f"{name:20}{fmt(r['colour_set'], True):>28}{fmt(r['centre_err_px']):>26}{fmt(r['iou']):>26}"
              f"  {r['offset_xy_px']}")
    for pair, cmp in res['paired'].items():
        print(f"  {pair:40}" + '  '.join(f"{k} {c['diff']:+.4f} [{c['lo']:+.4f}, {c['hi']:+.4f}] {c['verdict']}"
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
    axes = None   # the mirror axes calibrated on the first --decide part, used on every --report part
    for kind in ('decide', 'report'):
        for spec in getattr(a, kind):
            folder, indices, split = parse_folder(spec)
            r = score_folder(model, folder, indices, split, a.max_items, axes)
            if kind == 'decide' and axes is None: axes = [tuple(x) for x in r['calibrated_axes']]
            print(f'[{kind}]', end='')
            print_folder(r)
            res[kind].append(r)
    if a.json: save_json(res, a.json)


if __name__ == '__main__': main()
