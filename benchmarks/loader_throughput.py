"""DataLoader throughput: balldetect's decoded-once, in-memory datasets vs a naive per-item JPEG decode.

The naive dataset is what earlier solutions of the lab did: `skimage.io.imread` (or PIL) and `np.load` in
`__getitem__`. Both run in the same process, same DataLoader settings, alternating, best of `--repeats`.

usage: python benchmarks/loader_throughput.py [FOLDER] [--n-seq 1000] [--bs 64] [--repeats 3] [--naive skimage|pil]
FOLDER: a dataset root or a mini_balls folder; default: a temporary fixture of --n-seq sequences (3 images each).
"""
import argparse, re, shutil, sys, tempfile, time
from pathlib import Path
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent/'tests'))
from balldetect import data


class NaiveDataset(Dataset):
    "Decode the JPEG and load the label file on every access."
    def __init__(self, folder, decoder='skimage'):
        self.imgs = sorted(Path(folder).glob('img_*.jpg'))
        self.labels = [f.with_name(re.sub(r'^img_(\d+)\.jpg$', r'p_bb_\1.npy', f.name)) for f in self.imgs]
        if decoder == 'skimage':
            import skimage.io; self.read = skimage.io.imread
        else:
            from PIL import Image; self.read = lambda f: np.array(Image.open(f).convert('RGB'))
    def __len__(self): return len(self.imgs)
    def __getitem__(self, i):
        img = torch.from_numpy(self.read(self.imgs[i])).permute(2, 0, 1).float() / 255
        lab = torch.from_numpy(np.load(self.labels[i]).astype(np.float32))
        return img, lab[:, 0], lab[:, 1:]


def items_per_s(ds, bs, workers, seed=0) -> float:
    "Items per second of one shuffled pass over `ds`."
    dl = DataLoader(ds, bs, shuffle=True, generator=torch.Generator().manual_seed(seed), num_workers=workers)
    t, n = time.perf_counter(), 0
    for xb, pb, bb in dl: n += len(xb)
    return n / (time.perf_counter() - t)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('folder', nargs='?', help='dataset root or mini_balls folder (default: a temporary fixture)')
    p.add_argument('--n-seq', type=int, default=1000, help='sequences of the default fixture (3 images each)')
    p.add_argument('--bs', type=int, default=64); p.add_argument('--workers', type=int, default=0)
    p.add_argument('--repeats', type=int, default=3); p.add_argument('--naive', default='skimage', choices=['skimage', 'pil'])
    a = p.parse_args(argv)
    tmp = None
    if a.folder: folder = data.find_folder(a.folder)
    else:
        from balls_fixture import write_fixture
        tmp = Path(tempfile.mkdtemp()); t = time.perf_counter()
        write_fixture(tmp, a.n_seq, sequences=False); folder = tmp/'mini_balls'
        print(f'fixture: {a.n_seq * 3} images written in {time.perf_counter() - t:.1f} s')
    try:
        n_files = len(list(folder.glob('img_*.jpg')))
        t = time.perf_counter(); fast = data.DetectionDataset(folder); t_open = time.perf_counter() - t
        print(f'{folder}: {n_files} images; first open {t_open:.2f} s ({fast.arrays["source"]})')
        data._MEMO.clear(); t = time.perf_counter(); fast = data.DetectionDataset(folder); t_open2 = time.perf_counter() - t
        print(f'second open (new process equivalent) {t_open2:.2f} s ({fast.arrays["source"]})')
        naive = NaiveDataset(folder, a.naive)
        f, n = [], []
        for r in range(a.repeats):
            n.append(items_per_s(naive, a.bs, a.workers, r)); f.append(items_per_s(fast, a.bs, a.workers, r))
        bf, bn = max(f), max(n)
        print(f'bs={a.bs} num_workers={a.workers}, best of {a.repeats} epochs')
        print(f'  naive ({a.naive} + np.load per item): {bn:9.0f} items/s')
        print(f'  balldetect (decoded once, in memory): {bf:9.0f} items/s')
        print(f'  ratio: {bf / bn:.1f}x')
        return dict(naive=bn, fast=bf, ratio=bf / bn, open_first_s=t_open, open_cached_s=t_open2)
    finally:
        if tmp: shutil.rmtree(tmp)


if __name__ == '__main__': main()
