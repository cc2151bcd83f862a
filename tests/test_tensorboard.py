"""TensorBoard over a smoke run, as a user would watch it: the server starts on a free port, lists the run's curves, a
headless Chromium shows the scalars page, and the server stops by its pid."""
import json, os, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest
from balldetect.report import find_chromium
from cli_run import run

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def get_json(url:str, timeout:float=60):
    "The JSON at `url`, retried until the server answers or `timeout` s pass."
    t0 = time.time()
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r: return json.loads(r.read())
        except OSError:
            if time.time() - t0 > timeout: raise
            time.sleep(0.5)

def test_tensorboard_serves_a_smoke_run(tmp_path):
    pytest.importorskip('tensorboard')
    from balls_fixture import write_fixture
    data = write_fixture(tmp_path/'D', n_seq=12)
    assert run('train', '--task', 'forecast', '--data-dir', data, '--out', tmp_path/'runs'/'smoke_run', '--profile', 'smoke',
               '--quiet')[0] == 0
    port = free_port()
    server = subprocess.Popen([str(BIN/'tensorboard'), '--logdir', str(tmp_path/'runs'), '--host', '127.0.0.1', '--port',
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        tags = get_json(f'http://127.0.0.1:{port}/data/plugin/scalars/tags')
        assert {'loss/train', 'loss/valid', 'valid/mse_px2', 'opt/lr', 'time/items_per_s'} <= set(tags['smoke_run']), tags
        series = get_json(f'http://127.0.0.1:{port}/data/plugin/scalars/scalars?run=smoke_run&tag=loss/valid')
        history = json.loads((tmp_path/'runs'/'smoke_run'/'history.json').read_text())
        assert [s[1] for s in series] == [h['epoch'] for h in history]
        if (chrome := find_chromium()) is None: pytest.skip('no Chromium for the screenshot')
        shot = tmp_path/'scalars.png'
        subprocess.run([chrome, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--virtual-time-budget=15000',
                        '--window-size=1400,900', f'--screenshot={shot}', f'http://127.0.0.1:{port}/#timeseries'],
                       capture_output=True, timeout=120)
        assert shot.exists() and shot.stat().st_size > 20_000
        if os.environ.get('BALLDETECT_KEEP_SHOT'): Path(os.environ['BALLDETECT_KEEP_SHOT']).write_bytes(shot.read_bytes())
    finally:
        server.terminate()
        server.wait(30)
    assert server.poll() is not None                     # stopped by its pid
