"End-to-end checks of the hyperparameter search: resume after a Ctrl-C or a kill, determinism, failures, CLI."
import importlib, json, os, pickle, signal, subprocess, sys, time
from pathlib import Path
import pytest
from balldetect.core import load_json
from balldetect.search import hp_search, load_trials, search_config
from search_fixture import toy_train

BASE = search_config('forecast', 'smoke')
params = lambda trials: [r['params'] for r in trials.results]
lines = lambda d: [json.loads(l) for l in (Path(d)/'trials.jsonl').read_text().splitlines()]


def test_ctrl_c_then_resume_loses_nothing(tmp_path):
    ref = hp_search(BASE, 6, tmp_path/'ref', seed=3, train_fn=toy_train, n_startup=3, progress=False)
    calls = []
    def stops_at_third(cfg):
        calls.append(cfg)
        if len(calls) == 3: raise KeyboardInterrupt
        return toy_train(cfg)
    with pytest.raises(KeyboardInterrupt):
        hp_search(BASE, 6, tmp_path/'s', seed=3, train_fn=stops_at_third, n_startup=3, progress=False)
    saved = load_trials(tmp_path/'s')
    assert len(saved) == 2 and [r['tid'] for r in lines(tmp_path/'s')] == [0, 1]
    done = hp_search(BASE, 6, tmp_path/'s', seed=3, train_fn=toy_train, n_startup=3, progress=False)
    assert params(done)[:2] == params(saved)          # earlier trials kept as they were
    assert params(done) == params(ref)                # and the search is the one never stopped
    assert [r['tid'] for r in lines(tmp_path/'s')] == list(range(6))


KILLED = """
import sys, time
sys.path.insert(0, sys.argv[2])
from balldetect.search import hp_search, search_config
from search_fixture import toy_train
def slow(cfg): time.sleep(0.3); return toy_train(cfg)
hp_search(search_config('detect', 'smoke'), 40, sys.argv[1], seed=1, train_fn=slow, n_startup=3, progress=False)
"""

def test_sigkill_then_resume(tmp_path):
    "A search killed with SIGKILL (no cleanup at all) leaves readable files and resumes to the same trials."
    out = tmp_path/'k'
    p = subprocess.Popen([sys.executable, '-c', KILLED, str(out), str(Path(__file__).parent)])
    t0 = time.time()
    while time.time() - t0 < 60 and not (out/'trials.pkl').exists(): time.sleep(0.1)
    time.sleep(1.0); os.kill(p.pid, signal.SIGKILL); p.wait()
    saved = load_trials(out)
    n = len(saved)
    assert 1 <= n < 40 and len(lines(out)) in (n - 1, n)  # the log may be one behind the pickle
    base = search_config('detect', 'smoke')
    done = hp_search(base, n + 3, out, seed=1, train_fn=toy_train, n_startup=3, progress=False)
    assert not [o for o in out.iterdir() if o.name.endswith('.tmp')] and len(lines(out)) == n + 3
    ref = hp_search(base, n + 3, tmp_path/'ref', seed=1, train_fn=toy_train, n_startup=3, progress=False)
    assert params(done)[:n] == params(saved) and params(done) == params(ref)


def test_failures_are_recorded_not_fatal(tmp_path):
    def flaky(cfg):
        if cfg['bs'] == 32: raise RuntimeError('boom')
        return toy_train(cfg | dict(lr=1.0)) if cfg['bs'] == 64 else toy_train(cfg)
    t = hp_search(BASE, 10, tmp_path, seed=0, train_fn=flaky, n_startup=3, progress=False)
    recs = lines(tmp_path)
    assert len(t) == len(recs) == 10
    errs = {r['error'] for r in recs if r['status'] == 'fail'}
    assert errs == {'RuntimeError: boom', 'FloatingPointError: validation loss is nan'}
    s = load_json(tmp_path/'summary.json')
    assert s['n_failed'] == 10 - s['n_ok'] and load_json(tmp_path/'best.json')['bs'] not in (32, 64)
    with open(tmp_path/'trials.pkl', 'rb') as f: assert len(pickle.load(f).trials) == 10


def test_resume_with_other_settings_is_refused(tmp_path):
    hp_search(BASE, 2, tmp_path, seed=0, train_fn=toy_train, progress=False)
    with pytest.raises(ValueError, match='other settings'):
        hp_search(search_config('forecast', 'default'), 2, tmp_path, seed=0, train_fn=toy_train, progress=False)


def _cli():
    try: from balldetect.cli import main, build_parser; build_parser(); return main
    except Exception as e: pytest.skip(f'the balldetect CLI cannot be built yet ({e})')

def test_cli_errors(tmp_path, capsys):
    main = _cli()
    assert main(['hp', '--model', 'detect', '--max-evals', '0', '--out', str(tmp_path/'a')]) == 1
    assert 'max-evals must be at least 1' in capsys.readouterr().err
    assert main(['hp', '--model', 'forecast', '--arch', 'cnn', '--out', str(tmp_path/'b')]) == 1
    assert 'choose from mlp, physics' in capsys.readouterr().err
    assert main(['hp', '--model', 'forecast', '--cluster', 'local:0', '--out', str(tmp_path/'c')]) == 1
    assert 'expected local:K with K >= 1' in capsys.readouterr().err and not (tmp_path/'c').exists()
    assert main(['hp', '--model', 'forecast', '--max-evals', '1', '--data-dir', str(tmp_path/'none'), '--out', str(tmp_path/'d')]) == 1
    assert 'no such data folder' in capsys.readouterr().err  # bad data stops the search: it is not a failed trial


@pytest.mark.parametrize('task', ['forecast', 'detect'])
def test_cli_search_then_train_best(task, tmp_path, capsys):
    "`balldetect hp` with the real `train` on a tiny data set; the test split is never scored; best.json trains."
    main = _cli()
    from balls_fixture import write_fixture
    data, out = write_fixture(tmp_path/'D', n_seq=20), tmp_path/'hp'
    argv = ['hp', '--model', task, '--max-evals', '2', '--profile', 'smoke', '--data-dir', str(data), '--out', str(out)]
    if task == 'detect': argv += ['--arch', 'heatmap']  # the reference CNN is slow on CPU
    assert main(argv) == 0, capsys.readouterr().err
    assert 'best config' in capsys.readouterr().out
    recs = lines(out)
    assert len(recs) == 2 and all(r['status'] == 'ok' for r in recs), recs
    for r in recs: assert load_json(Path(r['config']['out'])/'metrics.json')['test'] is None
    from cli_run import tensorboard_events                     # one HParams entry per trial: one table in TensorBoard
    assert all('_hparams_/session_start_info' in tensorboard_events(Path(r['config']['out']))[1] for r in recs)
    assert main(argv) == 0  # resumed: nothing left to do
    assert len(lines(out)) == 2
    assert main(['train', '--config', str(out/'best.json'), '--profile', 'smoke', '--out', str(tmp_path/'best'), '--quiet']) == 0
    assert load_json(tmp_path/'best'/'metrics.json')['arch'] == load_json(out/'best.json')['arch']


def test_summary_notebook_runs_under_papermill(tmp_path):
    "The summary notebook summarises a search folder given as a parameter and writes only into out_dir."
    pm = pytest.importorskip('papermill')
    from balldetect.core import project_root
    hp_search(BASE, 5, tmp_path/'hp', seed=0, train_fn=toy_train, n_startup=3, progress=False)
    nb = project_root()/'nbs'/'experiments'/'hp_summary.ipynb'
    before = sorted(p.name for p in nb.parent.iterdir())
    pm.execute_notebook(str(nb), str(tmp_path/'summary.ipynb'), kernel_name='python3', progress_bar=False,
                        parameters=dict(search_dir=str(tmp_path/'hp'), out_dir=str(tmp_path/'out')), cwd=str(nb.parent))
    m = load_json(tmp_path/'out'/'metrics.json')
    assert m['n_trials'] == 5 and not m['stand_in'] and m['best_config']['task'] == 'forecast'
    assert all((tmp_path/'out'/f).stat().st_size > 1000 for f in m['figures'])
    assert sorted(p.name for p in nb.parent.iterdir()) == before


def _ray_processes() -> set:
    "Ray processes alive now: GCS, raylets, their agents and workers, and local-cluster nodes (`ray start`)."
    import psutil
    found = set()
    for p in psutil.process_iter(['name', 'cmdline']):
        cmd = ' '.join(p.info['cmdline'] or [])
        if p.info['name'] in ('raylet', 'gcs_server') or (p.info['name'] or '').startswith('ray::') \
           or '/site-packages/ray/' in cmd or 'bdray_' in cmd:
            found.add(p.pid)
    return found

def test_cli_cluster_search_resume_then_train(tmp_path):
    "`hp --cluster local:2`: 4 real trainings on 2 nodes, resumed to 5, no process left; best.json trains."
    pytest.importorskip('ray.tune')
    from balls_fixture import write_fixture
    import tempfile
    data, out = write_fixture(tmp_path/'D', n_seq=20), tmp_path/'hp'
    bd = Path(sys.executable).parent/'balldetect'
    env = os.environ | dict(OMP_NUM_THREADS='1')
    argv = [bd, 'hp', '--model', 'forecast', '--profile', 'smoke', '--data-dir', data, '--out', out, '--cluster', 'local:2',
            '--n-startup', '3']
    before, tmp_dirs = _ray_processes(), set(Path(tempfile.gettempdir()).glob('bdray_*'))
    r = subprocess.run([*map(str, argv), '--max-evals', '4'], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    recs = lines(out)
    assert len(recs) == 4 and all(r['status'] == 'ok' for r in recs), recs
    nodes = {r['worker'].split(' pid ')[0] for r in recs}
    assert len(nodes) == 2, nodes                             # the trials ran on both workers
    assert not _ray_processes() - before                       # the cluster is gone, and with it its sockets
    assert set(Path(tempfile.gettempdir()).glob('bdray_*')) == tmp_dirs
    r = subprocess.run([*map(str, argv), '--max-evals', '5'], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert lines(out)[:4] == recs and len(lines(out)) == 5    # resumed: the 4 kept as they were, exactly 1 more
    assert len(load_trials(out)) == 5 and load_json(out/'summary.json')['n_trials'] == 5
    assert not _ray_processes() - before
    r = subprocess.run([str(bd), 'train', '--config', str(out/'best.json'), '--profile', 'smoke', '--out', str(tmp_path/'best'),
                        '--quiet'], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert load_json(tmp_path/'best'/'metrics.json')['arch'] == load_json(out/'best.json')['arch']


def _cluster_search(tmp_path, *extra) -> tuple:
    "`hp --cluster local:2` on 20 fixture sequences into `tmp_path/hp`: (argv, search folder, environment)."
    pytest.importorskip('ray.tune')
    from balls_fixture import write_fixture
    data, out = write_fixture(tmp_path/'D', n_seq=20), tmp_path/'hp'
    argv = [Path(sys.executable).parent/'balldetect', 'hp', '--model', 'forecast', '--profile', 'smoke', '--data-dir', data,
            '--out', out, '--cluster', 'local:2', *extra]
    return list(map(str, argv)), out, os.environ | dict(OMP_NUM_THREADS='1')

def _started_search(argv, out, env, **popen):
    "The search `argv` started, once its first trial is saved (or it has exited, or 300 s have passed)."
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, **popen)
    t0 = time.time()
    while time.time() - t0 < 300 and p.poll() is None and not (out/'trials.jsonl').exists(): time.sleep(0.2)
    return p


def test_cli_cluster_ctrl_c_keeps_finished_trials(tmp_path):
    "Ctrl-C during `hp --cluster local:2`: exit 130, the finished trials saved (none as failed), the cluster gone."
    argv, out, env = _cluster_search(tmp_path, '--max-evals', '12')
    before = _ray_processes()
    p = _started_search(argv, out, env, stderr=subprocess.PIPE, text=True)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=300)[1]
    assert p.returncode == 130 and 'interrupted' in err, err[-3000:]
    recs = lines(out)
    assert 1 <= len(recs) < 12 and all(r['status'] == 'ok' for r in recs), recs  # a stopped trial is not a failed one
    assert len(load_trials(out)) == len(recs)
    assert not _ray_processes() - before


def test_cli_cluster_sigkill_leaves_nothing(tmp_path):
    "`kill -9` of `hp --cluster local:2`: a second `hp` is refused while it runs; then its nodes stop, the next one resumes."
    import tempfile
    argv, out, env = _cluster_search(tmp_path, '--n-startup', '3')
    before, tmp_dirs = _ray_processes(), set(Path(tempfile.gettempdir()).glob('bdray_*'))
    p = _started_search([*argv, '--max-evals', '12'], out, env, stderr=subprocess.DEVNULL)
    r = subprocess.run([*argv, '--max-evals', '12'], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and 'is writing into this folder' in r.stderr and r.stderr.count('\n') == 1, r.stderr
    p.kill(); p.wait()
    t0 = time.time()
    while time.time() - t0 < 90 and _ray_processes() - before: time.sleep(0.5)
    assert not _ray_processes() - before, 'Ray processes left 90 s after kill -9'
    n_done = len(lines(out))
    r = subprocess.run([*argv, '--max-evals', str(n_done + 1)], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(lines(out)) == n_done + 1
    assert not _ray_processes() - before
    assert set(Path(tempfile.gettempdir()).glob('bdray_*')) <= tmp_dirs    # the killed search's folder swept
