"""The faults of the README's "What happens when things go wrong": two runs into one --out, a read-only data folder,
a full disk (a patched writer, and the first setup's space check), Ctrl-C and kill -9 in the middle of a run."""
import errno, json, os, signal, stat, subprocess, sys, time
from pathlib import Path
import pytest
import torch
from balls_fixture import write_fixture
from balldetect.core import LOCK_NAME
from cli_run import run

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]




def one_error_line(err:str) -> str:
    "The single `error:` line of `err` (asserting there is exactly one and no traceback)."
    lines = [l for l in err.strip().splitlines() if l.startswith('error:')]
    assert len(lines) == 1 and 'Traceback' not in err, err
    return lines[0]


@pytest.fixture(scope='module')
def data(tmp_path_factory): return write_fixture(tmp_path_factory.mktemp('faults')/'D', n_seq=12)


def train_argv(data, out, *extra):
    return ['train', '--model', 'forecast', '--arch', 'mlp', '--profile', 'smoke', '--data-dir', data, '--out', out,
            '--quiet', *extra]


def test_second_run_into_the_same_out_is_refused(data, tmp_path):
    "While a run holds --out, a second run there exits 1 with one line naming it, and touches nothing."
    out = tmp_path/'run'
    holder = subprocess.Popen([sys.executable, '-c', 'import sys; from balldetect.core import folder_lock\n'
                               f'with folder_lock({str(out)!r}, "train"): print("locked", flush=True); sys.stdin.read()'],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        (out/'best.pt').write_bytes(b'the first run')
        rc, _, err = run(*train_argv(data, out))
        line = one_error_line(err)
        assert rc == 1 and f'balldetect train (pid {holder.pid}) is writing into this folder' in line, line
        assert (out/'best.pt').read_bytes() == b'the first run' and not (out/'metrics.json').exists()
    finally:
        holder.kill(); holder.wait()                     # kill -9: the system drops the lock with the process
    rc, _, err = run(*train_argv(data, out))
    assert rc == 0, err
    assert json.loads((out/'metrics.json').read_text())['status'] == 'ok' and (out/LOCK_NAME).exists()


def test_second_report_into_the_same_out_is_refused(tmp_path):
    "`balldetect report` takes the same lock on its --out."
    from balldetect.core import folder_lock
    with folder_lock(tmp_path/'rep', 'report'):
        rc, _, err = run('report', '--profile', 'smoke', '--data-dir', tmp_path/'nodata', '--out', tmp_path/'rep')
    assert rc == 1 and 'balldetect report (pid' in one_error_line(err), err
    assert sorted(p.name for p in (tmp_path/'rep').iterdir()) == [LOCK_NAME]


def snapshot(folder:Path) -> dict:
    "Relative path -> (size, mtime) of everything under `folder`."
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob('*'))}


def test_read_only_data_folder(tmp_path):
    "A read-only data folder trains (split and decoded arrays kept in memory) and is left exactly as it was."
    d = write_fixture(tmp_path/'ro', n_seq=12)
    paths = [d, *d.rglob('*')]
    for p in paths: p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        before = snapshot(d)
        for task in ('detect', 'forecast'):
            rc, _, err = run('train', '--model', task, '--profile', 'smoke', '--data-dir', d, '--out', tmp_path/task, '--quiet')
            assert rc == 0, err
        assert snapshot(d) == before and not (d/'split.json').exists()
    finally:
        for p in paths: p.chmod(p.stat().st_mode | stat.S_IWUSR)


def failing_save(calls:list, fail_at:int, exc):
    "A `torch.save` whose `fail_at`-th checkpoint write writes half a file, then raises `exc`."
    real = torch.save
    def save(obj, f, *args, **kwargs):
        if Path(str(f)).name.startswith(('.best.pt', '.last.pt')):
            calls.append(Path(str(f)).name)
            if len(calls) == fail_at: Path(f).write_bytes(b'half a checkpoint'); raise exc
        return real(obj, f, *args, **kwargs)
    return save


@pytest.mark.parametrize('exc, rc_want, msg', [
    (OSError(errno.ENOSPC, 'No space left on device'), 1, 'no space left on device; whole files left: '),
    (KeyboardInterrupt(), 130, 'stopped; continue with the same options and: --resume --out'),
])
def test_stopped_while_writing_then_resumed(data, tmp_path, monkeypatch, exc, rc_want, msg):
    "Disk full (or Ctrl-C) while writing epoch 1's checkpoint: whole files only, the message says how to go on, --resume ends the run."
    out, calls = tmp_path/'run', []
    monkeypatch.setattr(torch, 'save', failing_save(calls, 3, exc))   # epoch 0 writes best.pt and last.pt
    rc, _, err = run(*train_argv(data, out))
    assert rc == rc_want and msg in err and 'Traceback' not in err, err
    if rc == 1: assert 'last.pt holds epoch 0' in one_error_line(err) and f'--resume --out {out}' in err
    assert not [p.name for p in out.iterdir() if p.name.endswith('.tmp')]
    assert torch.load(out/'last.pt', weights_only=True)['state']['epoch'] == 0
    monkeypatch.undo()                                                # space freed
    rc, _, err = run(*train_argv(data, out, '--resume'))
    assert rc == 0, err
    m = json.loads((out/'metrics.json').read_text())
    assert m['status'] == 'ok' and [h['epoch'] for h in m['history']] == [0, 1]


def test_kill_9_then_resume(data, tmp_path):
    "`kill -9` in the middle of a run leaves whole files and no lock; --resume continues from the last saved epoch."
    out = tmp_path/'run'
    keep_going = ['--patience', 100000, '--time-budget', 300]
    proc = subprocess.Popen([str(BIN/'balldetect'), *map(str, train_argv(data, out, '--epochs', 100000, *keep_going))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(1200):                             # wait for a few saved epochs (at most 2 minutes)
            if (out/'history.json').exists() and len(json.loads((out/'history.json').read_text() or '[]')) >= 3: break
            assert proc.poll() is None, 'the run ended before it could be killed'
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally: proc.wait()
    assert proc.returncode == -signal.SIGKILL
    epoch = torch.load(out/'last.pt', weights_only=True)['state']['epoch']
    rc, _, err = run(*train_argv(data, out, '--resume', '--epochs', epoch + 3, *keep_going))
    assert rc == 0, err
    m = json.loads((out/'metrics.json').read_text())
    assert m['status'] == 'ok' and [h['epoch'] for h in m['history']] == list(range(epoch + 3))
    assert not [p.name for p in out.iterdir() if p.name.endswith('.tmp')]


def test_first_setup_without_the_space_is_refused(tmp_path):
    "A fresh checkout on a disk with less room than the venv needs: one `error:` line, and no .venv begun."
    for name in ['Makefile', 'pyproject.toml']: (tmp_path/name).write_bytes((ROOT/name).read_bytes())
    more_than_any_disk_kb = 2**50
    res = subprocess.run(['make', '-s', 'install', f'INSTALL_NEEDS_KB={more_than_any_disk_kb}'], cwd=tmp_path,
                         capture_output=True, text=True)
    assert res.returncode != 0
    line = one_error_line(res.stdout)
    assert str(tmp_path) in line and 'needs about 8 GB' in line, line
    assert not (tmp_path/'.venv').exists()
