"The core commands where the optional dependencies cannot be imported; `generate` then says which extra it needs."
import json, os, re, subprocess, sys
from pathlib import Path
import pytest
from balls_fixture import write_fixture
from balldetect.cli import OPTIONAL_DEPS

BLOCKED = ('pybullet', 'hyperopt', 'papermill', 'nbconvert', 'fastai', 'matplotlib', 'pandas')
BALLDETECT = Path(sys.executable).parent/'balldetect'

@pytest.fixture(scope='module')
def env(tmp_path_factory):
    "The environment of a process in which importing any of `BLOCKED` fails (a `sitecustomize.py` on PYTHONPATH)."
    site = tmp_path_factory.mktemp('site')
    (site/'sitecustomize.py').write_text(f'import sys\nfor name in {BLOCKED!r}: sys.modules[name] = None\n')
    path = os.pathsep.join(p for p in (str(site), os.environ.get('PYTHONPATH')) if p)
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS='1')

def run(env, *argv, cmd=(str(BALLDETECT),)):
    "Run a command in `env`: (exit code, stdout, stderr)."
    p = subprocess.run([*cmd, *map(str, argv)], env=env, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr

def test_modules_blocked(env):
    for name in BLOCKED:
        rc, out, err = run(env, '-c', f'import {name}', cmd=(sys.executable,))
        assert rc == 1 and 'ModuleNotFoundError' in err, (name, err)
    core = 'import balldetect, balldetect.train, balldetect.evaluate, balldetect.cli'
    rc, out, err = run(env, '-c', core, cmd=(sys.executable,))
    assert rc == 0, err

def test_help(env):
    rc, out, err = run(env, '--help')
    assert rc == 0 and 'generate' in out and 'train' in out, err
    for cmd in ('train', 'evaluate', 'predict', 'generate'):
        rc, out, err = run(env, cmd, '--help')
        assert rc == 0 and '--' in out, (cmd, err)

def test_core_commands(env, tmp_path):
    D = write_fixture(tmp_path/'D', 24)
    for task in ('forecast', 'detect'):
        rc, out, err = run(env, 'train', '--model', task, '--data-dir', D, '--out', tmp_path/task, '--profile', 'smoke',
                           '--quiet')
        assert rc == 0 and 'run:' in out, err
        assert json.loads((tmp_path/task/'metrics.json').read_text())['status'] == 'ok'
    rc, out, err = run(env, 'evaluate', '--checkpoint', tmp_path/'detect'/'best.pt', '--data-dir', D)
    assert rc == 0 and 'colour_threshold' in out, err
    rc, out, err = run(env, 'predict', '--checkpoint', tmp_path/'detect'/'best.pt', D/'mini_balls'/'img_00000.jpg',
                       '--out-png', tmp_path/'boxes.png')
    assert rc == 0 and 'img_00000.jpg:' in out and (tmp_path/'boxes.png').exists(), err

def test_generate_says_what_is_missing(env, tmp_path):
    rc, out, err = run(env, 'generate', '--out', tmp_path/'sim', '--sequences', 2, '--workers', 1)
    assert (rc, err) == (1, "error: balldetect generate needs pybullet: pip install 'balldetect[sim]'\n"), (rc, err)
    assert not (tmp_path/'sim').exists()

def test_report_says_what_is_missing(env, tmp_path):
    rc, out, err = run(env, 'report', '--profile', 'smoke', '--out', tmp_path/'rep')
    # the first module of the report extra that the report imports is named (pandas, for its evidence tables)
    said = re.fullmatch(r"error: balldetect report needs (\w+): pip install 'balldetect\[report\]'\n", err)
    assert rc == 1 and said and said[1] in BLOCKED and OPTIONAL_DEPS[said[1]] == 'report', (rc, err)
    assert not (tmp_path/'rep').exists()
