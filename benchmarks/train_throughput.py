"""Training throughput: raw step rate on synthetic tensors vs end-to-end rate of real training epochs.

For the heatmap detector, the earlier solution's CNN (ref) and the physics forecaster, at the profile's batch
size and at a large batch: the raw step (forward, loss, backward, optimizer; AMP on CUDA, as the Learner does)
on tensors already on the device, and the training pass of real epochs (`balldetect.train`'s loaders, learner
and callbacks; validation and checkpoints excluded from the timing). Their ratio says how much the input
pipeline and the loop cost. `--dataloader` also times the old per-item DataLoader path.

usage: python benchmarks/train_throughput.py [--device cpu|cuda] [--seconds S] [--data-dir D] [--n-seq N]
       [--large-bs B] [--models heatmap,ref,physics] [--dataloader] [--clock wall|cpu]
Without --data-dir a temporary fixture of --n-seq sequences (3 images each) is written.
"""
import argparse, math, shutil, sys, tempfile, time
from pathlib import Path
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent/'tests'))
from balldetect.core import get_device
from balldetect.models import build_model
from balldetect.learner import Callback, make_optimizer
from balldetect.train import make_learner, make_loaders, resolve_config

MODELS = {'heatmap': 'detect', 'ref': 'detect', 'physics': 'forecast'}
CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}  # cpu: this process's CPU seconds (less load-skewed)
clock = CLOCKS['wall']


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize(device)


def synthetic_batch(task:str, bs:int, device) -> tuple:
    "Plausible inputs and targets of `task` for `bs` items, on `device`."
    g = torch.Generator().manual_seed(0)
    cols = torch.rand(bs, 9, generator=g).argsort(1)[:, :3].sort(1).values  # (bs, 3) colours present
    ctr = torch.rand(bs, 20, 3, 2, generator=g) * 78 + 11                   # (bs, 20, 3, 2) centres, px
    boxes3 = torch.cat([ctr - 5.5, ctr + 5.5], -1).round()                 # (bs, 20, 3, 4)
    presence = torch.zeros(bs, 9).scatter_(1, cols, 1.)
    if task == 'forecast': b = (boxes3[:, :19], presence, boxes3[:, 19])
    else:
        boxes = torch.zeros(bs, 9, 4).scatter_(1, cols[..., None].expand(-1, -1, 4), boxes3[:, 0])
        b = (torch.rand(bs, 3, 100, 100, generator=g), presence, boxes)
    return tuple(t.to(device) for t in b)


def raw_rate(cfg:dict, device, seconds:float) -> float:
    "Items/s of the bare training step of `cfg`'s model on one synthetic batch."
    task, bs = cfg['task'], cfg['bs']
    model = build_model(task, cfg['arch'], cfg['arch_kwargs']).to(device).train()
    opt = make_optimizer(model.parameters(), cfg['opt'], cfg['lr'], cfg['wd'])
    amp = cfg['amp'] and device.type == 'cuda'
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    batch, n_inp = synthetic_batch(task, bs, device), 2 if task == 'forecast' else 1
    def step():
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            loss = model.loss(model(*batch[:n_inp]), *batch[n_inp:])
        scaler.scale(loss).backward(); scaler.step(opt); scaler.update(); opt.zero_grad(set_to_none=True)
    for _ in range(3): step()
    sync(device); t0, n = clock(), 0
    while clock() - t0 < seconds or n < 3:
        step(); n += 1
        if n % 10 == 0: sync(device)
    sync(device)
    return n * bs / (clock() - t0)


class PassTimerCB(Callback):
    "Time the training passes (device synchronised) and count their items."
    order = 100
    def __init__(self): self.times, self.items = [], []
    def before_epoch(self, learn):
        if learn.training: sync(learn.device); self.t0, self.n = clock(), 0
    def after_batch(self, learn):
        if learn.training: self.n += len(learn.targets[0])
    def after_epoch(self, learn):
        if learn.training: sync(learn.device); self.times.append(clock() - self.t0); self.items.append(self.n)


def end_to_end_rate(cfg:dict, device, seconds:float, est_rate:float, dataloader:bool=False) -> float:
    "Items/s of the training passes of real epochs (the first, a warm-up, is left out when there are more)."
    dss, train_dl, valid_dl = make_loaders(cfg, device)
    if dataloader:
        train_dl = DataLoader(dss['train'], cfg['bs'], shuffle=True, generator=torch.Generator().manual_seed(0),
                              drop_last=len(dss['train']) > cfg['bs'])
    epochs = max(2, min(50, math.ceil(seconds * est_rate / len(dss['train'])) + 1))
    timer = PassTimerCB()
    learn = make_learner(cfg, build_model(cfg['task'], cfg['arch'], cfg['arch_kwargs']), train_dl, valid_dl, {})
    learn.cbs.append(timer); timer.learn = learn
    learn.fit(epochs)
    t, n = (timer.times[1:], timer.items[1:]) if len(timer.times) > 1 else (timer.times, timer.items)
    return sum(n) / sum(t)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='auto', help='cpu, cuda or auto')
    p.add_argument('--seconds', type=float, default=5., help='time per measurement (about)')
    p.add_argument('--data-dir', help='dataset (default: a temporary fixture of --n-seq sequences)')
    p.add_argument('--n-seq', type=int, default=600, help='sequences of the default fixture')
    p.add_argument('--large-bs', type=int, help='the large batch (default 1024 on CUDA, 256 on the CPU)')
    p.add_argument('--profile', help='profile whose batch sizes are used (default full on CUDA, default on the CPU)')
    p.add_argument('--models', default=','.join(MODELS), help='comma-separated: heatmap, ref, physics')
    p.add_argument('--max-train', type=int, help='cap on the training items of an epoch')
    p.add_argument('--dataloader', action='store_true', help='also time the per-item DataLoader path')
    p.add_argument('--clock', default='wall', choices=list(CLOCKS), help='wall time, or CPU time of this process (CPU runs)')
    a = p.parse_args(argv)
    global clock
    clock = CLOCKS[a.clock]
    device = get_device(a.device)
    gpu = device.type == 'cuda'
    profile, large = a.profile or ('full' if gpu else 'default'), a.large_bs or (1024 if gpu else 256)
    name = torch.cuda.get_device_name(device) if gpu else f'cpu, {torch.get_num_threads()} threads'
    print(f'device: {device} ({name}); profile {profile}; {a.clock} clock; torch {torch.__version__}')
    tmp = Path(tempfile.mkdtemp())
    try:
        if a.data_dir: D = Path(a.data_dir)
        else:
            from balls_fixture import write_fixture
            t = time.perf_counter(); D = write_fixture(tmp/'D', a.n_seq)
            print(f'fixture: {a.n_seq} sequences, {3 * a.n_seq} images in {time.perf_counter() - t:.1f} s')
        results = []
        for arch in a.models.split(','):
            task = MODELS[arch]
            base = resolve_config(dict(task=task, arch=arch, profile=profile))
            for bs in dict.fromkeys([base['bs'], large]):
                cfg = resolve_config(dict(task=task, arch=arch, profile=profile, data_dir=str(D), bs=bs,
                                          out=str(tmp/f'{arch}_{bs}'), device=str(device), progress=False,
                                          evaluate_test=False, patience=10**6, time_budget_s=None,
                                          max_train=a.max_train, max_eval=256, epochs=1))
                raw = raw_rate(cfg, device, a.seconds)
                e2e = end_to_end_rate(cfg, device, a.seconds, raw)
                line = (f'{arch:8} bs={bs:5}: raw step {raw:10,.0f} items/s, end to end {e2e:10,.0f} items/s, '
                        f'ratio {e2e / raw:.2f}')
                if a.dataloader:
                    dl = end_to_end_rate(cfg, device, a.seconds, raw, dataloader=True)
                    line += f'; DataLoader path {dl:10,.0f} items/s (device batches {e2e / dl:.2f}x)'
                print(line, flush=True)
                results.append(dict(arch=arch, bs=bs, raw=raw, end_to_end=e2e, ratio=e2e / raw))
        return results
    finally: shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__': main()
