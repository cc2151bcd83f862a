"`torchrun --nproc-per-node 2 balldetect train` on the CPU (gloo) matches one process with the same global batch."
import json, os, subprocess, sys
from pathlib import Path
from balls_fixture import write_fixture

BIN = Path(sys.executable).parent

def run(*argv):
    "Run a command with one torch thread per process: (exit code, stdout, stderr)."
    env = dict(os.environ, OMP_NUM_THREADS='1')
    p = subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr

def test_ddp_matches_one_process(tmp_path):
    D = write_fixture(tmp_path/'D', 40)
    (tmp_path/'cfg.json').write_text(json.dumps(dict(windows=False)))  # random windows draw differently per rank
    args = ['train', '--model', 'forecast', '--data-dir', D, '--profile', 'smoke', '--epochs', 3, '--bs', 16,
            '--config', tmp_path/'cfg.json', '--device', 'cpu', '--quiet']
    rc, out1, err = run(BIN/'balldetect', *args, '--out', tmp_path/'one')
    assert rc == 0, err
    torchrun = [BIN/'torchrun', '--standalone', '--nproc-per-node', 2]
    rc, out2, err = run(*torchrun, BIN/'balldetect', *args, '--out', tmp_path/'two')
    assert rc == 0, err
    assert out2.count('run:') == 1 and 'x 2 processes (DDP)' in out2, out2
    m1, m2 = (json.loads((tmp_path/r/'metrics.json').read_text()) for r in ('one', 'two'))
    assert (m1['world_size'], m2['world_size'], m2['status'], m2['epochs_run']) == (1, 2, 'ok', 3)
    events = lambda name: 'events' if name.startswith('events.out.tfevents.') else name  # named by time, host, pid
    files = lambda run: sorted(events(p.name) for p in (tmp_path/run).iterdir())
    assert files('two') == files('one') and files('one').count('events') == 2   # rank 0 alone wrote TensorBoard's
    for h1, h2 in zip(m1['history'], m2['history']):
        assert abs(h1['valid_loss'] - h2['valid_loss']) <= 1e-3 * abs(h1['valid_loss']) + 1e-6, (h1, h2)
    t1, t2 = m1['test']['mse_px2'], m2['test']['mse_px2']
    assert abs(t1 - t2) <= 1e-3 * t1, (t1, t2)
