"""Robustness sweep: every task, architecture and profile on tiny synthetic sets and on a course-layout folder.

Each command either succeeds or ends with exit code 1 and one `error:` line: never a traceback. The runs are
called in-process (`balldetect.cli.main`), one epoch on a few items, so the whole sweep takes about a minute.
"""
import contextlib, io, json, math
from pathlib import Path
import pytest
import torch
from torch.utils.data import DataLoader
from hypothesis import example, given, settings, strategies as st
from balls_fixture import write_fixture
from balldetect.generate import generate
from balldetect.learner import make_optimizer, make_scheduler, schedule_fallback
from cli_run import run

SIZES = (3, 5, 12, 60)                     # synthetic sets: sequences
DATASETS = [f'sim{n}' for n in SIZES] + ['course']
ARCHS = [('detect', 'heatmap'), ('detect', 'ref'), ('forecast', 'physics'), ('forecast', 'mlp')]
CAPS = dict(max_train=40, max_eval=20)     # default and full profiles: a few items, one epoch
# 4 and 5 optimiser steps: the one-cycle warm-up is exactly 1 step for pct_start 0.25 (physics) and 0.2 (heatmap)
TIGHT = [dict(bs=8, max_train=32, max_eval=16), dict(bs=8, max_train=40, max_eval=16)]
ONECYCLE_ARCHS = ('heatmap', 'physics')




def assert_clean(rc, err, argv):
    "Success, or exit code 1 with exactly one `error:` line, the last one; never a traceback."
    assert 'Traceback' not in err, (argv, err)
    if rc == 0: return
    lines = err.strip().splitlines()
    assert rc == 1 and lines and lines[-1].startswith('error: '), (argv, rc, err)
    assert sum(l.startswith('error:') for l in lines) == 1, (argv, err)


@pytest.fixture(scope='session')
def data(tmp_path_factory) -> dict:
    "The sweep's data folders: simulated sets of 3, 5, 12 and 60 sequences, and 60 in the course layout (no simulator marker)."
    root = tmp_path_factory.mktemp('sweep_data')
    ds = {f'sim{n}': generate(root/f'sim{n}', sequences=n, seed=0, workers=1, progress=False) for n in SIZES}
    ds['course'] = write_fixture(root/'course', n_seq=60)
    ds['sim2'] = generate(root/'sim2', sequences=2, seed=0, workers=1, progress=False)   # too small: a clear error
    return ds


@pytest.fixture(scope='session')
def cfg_files(tmp_path_factory) -> dict:
    "JSON config files with the caps of each variant."
    root = tmp_path_factory.mktemp('sweep_cfg')
    files = {'caps': CAPS, **{f'tight{i}': c for i, c in enumerate(TIGHT)}}
    for name, c in files.items(): (root/f'{name}.json').write_text(json.dumps(dict(c, device='cpu')))
    return {name: root/f'{name}.json' for name in files}


@pytest.mark.parametrize('task, arch', ARCHS)
@pytest.mark.parametrize('name', DATASETS)
def test_train_every_profile(data, cfg_files, tmp_path, name, task, arch):
    "smoke, default and full (one epoch, capped) train, and the checkpoint evaluates, on every data set."
    variants = [('smoke', []), ('default', ['--epochs', 1, '--config', cfg_files['caps']]),
                ('full', ['--epochs', 1, '--config', cfg_files['caps']])]
    for profile, extra in variants:
        out = tmp_path/profile
        argv = ['train', '--model', task, '--arch', arch, '--profile', profile, '--data-dir', data[name],
                '--out', out, '--quiet', *extra]
        rc, stdout, err = run(*argv)
        assert_clean(rc, err, argv)
        assert rc == 0, (argv, err)                        # 3 sequences and up is enough for every run
        m = json.loads((out/'metrics.json').read_text())
        assert m['status'] == 'ok' and m['valid'] and m['data_source'] == ('course' if name == 'course' else 'synthetic')
        ev = ['evaluate', '--model', task, '--checkpoint', out/'best.pt', '--data-dir', data[name], '--device', 'cpu']
        rc, stdout, err = run(*ev)
        assert_clean(rc, err, ev)
        assert rc == 0, (ev, err)


@pytest.mark.parametrize('task, arch', ARCHS)
@pytest.mark.parametrize('name', ['sim60', 'course'])
def test_train_few_steps(data, cfg_files, tmp_path, name, task, arch):
    "4 and 5 optimiser steps: a one-cycle schedule that cannot apply falls back to a constant rate and says so."
    for i in range(len(TIGHT)):
        out = tmp_path/f'tight{i}'
        argv = ['train', '--model', task, '--arch', arch, '--profile', 'default', '--epochs', 1,
                '--config', cfg_files[f'tight{i}'], '--data-dir', data[name], '--out', out, '--quiet']
        rc, stdout, err = run(*argv)
        assert_clean(rc, err, argv)
        assert rc == 0, (argv, err)
        notes = json.loads((out/'metrics.json').read_text())['notes']
        if arch in ONECYCLE_ARCHS:
            assert notes and 'constant learning rate' in notes[0] and f'note: {notes[0]}' in stdout, (notes, stdout)
        else: assert notes == [], notes


def test_too_small_is_one_error_line(data, tmp_path):
    "Two sequences leave no validation item: one clear line, exit code 1, nothing written."
    for task in ('detect', 'forecast'):
        argv = ['train', '--model', task, '--profile', 'smoke', '--data-dir', data['sim2'], '--out', tmp_path/task, '--quiet']
        rc, stdout, err = run(*argv)
        assert_clean(rc, err, argv)
        assert rc == 1 and 'holds no' in err, err
        assert not (tmp_path/task).exists()


@pytest.mark.parametrize('name', DATASETS)
def test_predict_every_size(data, tmp_path, name):
    "A smoke detector of each data set predicts its own images."
    rc, _, err = run('train', '--model', 'detect', '--arch', 'ref', '--profile', 'smoke', '--data-dir', data[name],
                     '--out', tmp_path/'r', '--quiet')
    assert rc == 0, err
    img = sorted((Path(data[name])/'mini_balls').glob('img_*.jpg'))[0]
    argv = ['predict', '--checkpoint', tmp_path/'r'/'best.pt', img, '--json', tmp_path/'p.json']
    rc, stdout, err = run(*argv)
    assert_clean(rc, err, argv)
    assert rc == 0 and json.loads((tmp_path/'p.json').read_text()), err


@pytest.mark.parametrize('kind', ['detector', 'forecaster'])
@pytest.mark.parametrize('name', DATASETS)
def test_fastai_smoke(data, tmp_path, name, kind):
    "The fastai baselines (fit_one_cycle) train on every data set, or refuse it with a clear `DataError`."
    from balldetect.core import DataError
    if kind == 'detector': from balldetect.fastai_detector import train_fastai_detector as fit
    else: from balldetect.fastai_forecaster import train_fastai_forecaster as fit
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try: res = fit(data[name], tmp_path/'out', profile='smoke', device='cpu')
        except DataError as e: res = e
    if kind == 'forecaster' and name == 'sim3':   # one training sequence: batch norm needs two items
        assert isinstance(res, DataError) and 'needs at least 2' in str(res), res
    else:
        assert not isinstance(res, Exception), res
        assert res['status'] == 'ok' and res['epochs_run'] >= 1 and res['n_train'] >= 1, res


def train_batches(n_items:int, bs:int) -> int:
    "Batches per epoch of the training loader `balldetect.train.make_loaders` builds for `n_items` items."
    return len(DataLoader(range(n_items), bs, drop_last=n_items > bs))


SCHEDS = st.one_of(st.just('none'), st.just('cosine'),
                   st.builds(lambda p: dict(name='onecycle', pct_start=p), st.floats(0.01, 0.99)),
                   st.builds(lambda s, g: ['step', s, g], st.integers(1, 50), st.floats(0.1, 1.0)))


@settings(max_examples=300, deadline=None)
@example(sched=dict(name='onecycle', pct_start=0.25), n_items=7000, cap=256, bs=128, epochs=2)  # the smoke run
@example(sched=dict(name='onecycle', pct_start=0.2), n_items=60, cap=40, bs=8, epochs=1)       # heatmap, 5 steps
@example(sched='cosine', n_items=3, cap=None, bs=64, epochs=1)                                 # 1 step
@given(sched=SCHEDS, n_items=st.integers(1, 600), cap=st.one_of(st.none(), st.integers(1, 300)),
       bs=st.integers(1, 256), epochs=st.integers(1, 4))
def test_schedules_run_any_number_of_steps(sched, n_items, cap, bs, epochs):
    "Any data size, cap and batch size: the schedule runs every step with a finite rate in (0, lr], or is None with a reason."
    lr, n = 0.01, min(n_items, cap or n_items)
    steps = train_batches(n, bs)
    opt = make_optimizer(torch.nn.Linear(2, 1).parameters(), 'adamw', lr)
    reason = schedule_fallback(sched, epochs, steps)
    s, per = make_scheduler(opt, sched, epochs, steps, reason)
    assert (s is None) == (reason is not None or sched == 'none')
    for _ in range(epochs * steps if per == 'batch' else epochs):
        rate = opt.param_groups[0]['lr']
        assert math.isfinite(rate) and 0 <= rate <= lr * (1 + 1e-9), rate
        opt.step()
        if s is not None: s.step()
    if s is None: assert opt.param_groups[0]['lr'] == lr


@pytest.mark.parametrize('task', ['detect', 'forecast'])
@pytest.mark.parametrize('name', ['sim3', 'sim12', 'course'])
def test_hp_smoke(data, tmp_path, name, task):
    "A one-trial smoke search on the smallest, a middle and the course-layout set."
    argv = ['hp', '--model', task, '--max-evals', 1, '--profile', 'smoke', '--data-dir', data[name], '--out', tmp_path/'hp']
    rc, stdout, err = run(*argv)
    assert_clean(rc, err, argv)
    assert rc == 0 and (tmp_path/'hp'/'summary.json').exists(), (argv, err)


@pytest.mark.parametrize('sequences, ok', [(0, False), (1, True), (3, True)])
def test_generate_sizes(tmp_path, sequences, ok):
    "generate: a clear error for no sequences, any positive number otherwise."
    argv = ['generate', '--out', tmp_path/'g', '--sequences', sequences, '--workers', 1, '--quiet']
    rc, stdout, err = run(*argv)
    assert_clean(rc, err, argv)
    assert (rc == 0) == ok, (argv, err)
