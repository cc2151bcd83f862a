"`make lab` for real: start the server, start a kernel through its API, import balldetect in it, stop it by PID."
import json, os, re, signal, socket, subprocess, time, uuid
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

def free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def wait_url(proc, timeout=90):
    "Read the server's output until it prints the URL with its token."
    t0, seen = time.time(), []
    while time.time() - t0 < timeout:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None: break
            continue
        seen.append(line)
        if m := re.search(r'(http://127\.0\.0\.1:\d+/lab\?token=\w+)', line): return m.group(1)
    raise AssertionError('no URL printed:\n' + ''.join(seen[-30:]))

def run_code(base, token, kernel_id, code, timeout=60):
    "Execute `code` on a kernel over its websocket channel; return the stream output and the reply status."
    from tornado.ioloop import IOLoop
    from tornado.websocket import websocket_connect
    async def go():
        ws = await websocket_connect(f"ws{base[4:]}/api/kernels/{kernel_id}/channels?token={token}")
        msg_id = uuid.uuid4().hex
        ws.write_message(json.dumps(dict(header=dict(msg_id=msg_id, msg_type='execute_request', username='test', session=uuid.uuid4().hex, version='5.3'),
            parent_header={}, metadata={}, channel='shell', content=dict(code=code, silent=False, store_history=False,
            user_expressions={}, allow_stdin=False, stop_on_error=True))))
        out, status, t0 = [], None, time.time()
        while status is None and time.time() - t0 < timeout:
            m = json.loads(await ws.read_message())
            if m.get('parent_header', {}).get('msg_id') != msg_id: continue
            if m['msg_type'] == 'stream': out.append(m['content']['text'])
            if m['msg_type'] == 'execute_reply': status = m['content']['status']
        ws.close(); return ''.join(out), status
    return IOLoop.current().run_sync(go)

def test_make_lab_runs_a_kernel():
    import requests
    port = free_port()
    proc = subprocess.Popen(['make', '-s', 'lab', f'LAB_PORT={port}'], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        url = wait_url(proc)
        token = url.split('token=')[1]; port = int(url.split(':')[2].split('/')[0])  # jupyter moves on if the port got taken
        base = f'http://127.0.0.1:{port}'
        hdr = {'Authorization': f'token {token}'}
        for _ in range(60):  # the URL can be printed a moment before the port accepts connections
            try: requests.get(f'{base}/api/status', headers=hdr, timeout=5); break
            except requests.ConnectionError: time.sleep(0.5)
        assert requests.get(f'{base}/api/kernels', timeout=10).status_code == 403, 'token auth must stay on'
        servers = [s for s in map(json.loads, subprocess.run([str(ROOT/'.venv/bin/jupyter'), 'server', 'list', '--json'],
                   capture_output=True, text=True).stdout.splitlines()) if s['port'] == port]
        assert servers, 'server not listed'
        pid = servers[0]['pid']
        k = requests.post(f'{base}/api/kernels', headers=hdr, json={'name': 'python3'}, timeout=30).json()
        out, status = run_code(base, token, k['id'], 'import balldetect, balldetect.core as c; print("ok", balldetect.__version__, c.N_COLOURS)')
        assert status == 'ok' and out.startswith('ok ') and out.strip().endswith(' 9'), (status, out)
        os.kill(pid, signal.SIGTERM)
        proc.wait(timeout=30)
        with pytest.raises(requests.ConnectionError): requests.get(f'{base}/api/status', headers=hdr, timeout=5)
    finally:
        if proc.poll() is None: os.killpg(proc.pid, signal.SIGKILL)
