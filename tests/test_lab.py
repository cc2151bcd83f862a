"""`make lab` as a student meets it: start the server, open the start notebook in headless Chromium, check
the first screen, run a cell through the page and one through the kernel websocket, stop the server by PID."""
import asyncio, base64, json, os, re, signal, socket, subprocess, tempfile, time, uuid
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
START = '000_start_here.ipynb'
SHOT = os.environ.get('LAB_SCREENSHOT')  # where to keep the screenshot (a temporary folder otherwise)

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def wait_url(proc, timeout=90):
    "Read the server's output until it prints the URL with its token."
    t0, seen = time.time(), []
    while time.time() - t0 < timeout:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None: break
            continue
        seen.append(line)
        if m := re.search(r'(http://127\.0\.0\.1:\d+/lab\S*\?token=\w+)', line): return m.group(1)
    raise AssertionError('no URL printed:\n' + ''.join(seen[-30:]))

async def run_code(base, token, kernel_id, code, timeout=60):
    "Execute `code` on a kernel over its websocket channel; return the stream output and the reply status."
    from tornado.websocket import websocket_connect
    ws = await websocket_connect(f"ws{base[4:]}/api/kernels/{kernel_id}/channels?token={token}")
    msg_id = uuid.uuid4().hex
    header = dict(msg_id=msg_id, msg_type='execute_request', username='test', session=uuid.uuid4().hex, version='5.3')
    content = dict(code=code, silent=False, store_history=False, user_expressions={}, allow_stdin=False, stop_on_error=True)
    ws.write_message(json.dumps(dict(header=header, parent_header={}, metadata={}, channel='shell', content=content)))
    out, status, t0 = [], None, time.time()
    while status is None and time.time() - t0 < timeout:
        m = json.loads(await ws.read_message())
        if m.get('parent_header', {}).get('msg_id') != msg_id: continue
        if m['msg_type'] == 'stream': out.append(m['content']['text'])
        if m['msg_type'] == 'execute_reply': status = m['content']['status']
    ws.close()
    return ''.join(out), status

class Browser:
    "Headless Chromium with one page, driven through the DevTools protocol."
    def __init__(self, profile_dir, size=(1400, 900)):
        args = ['chromium', '--headless', '--no-sandbox', '--disable-gpu', '--remote-debugging-port=0',
                f'--user-data-dir={profile_dir}', f'--window-size={size[0]},{size[1]}', 'about:blank']
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.ws, self.n = None, 0

    async def connect(self, timeout=30):
        import requests
        from tornado.websocket import websocket_connect
        t0 = time.time()
        while time.time() - t0 < timeout:
            line = self.proc.stderr.readline()
            if m := re.search(r'DevTools listening on ws://([\d.]+:\d+)/', line): break
            if not line and self.proc.poll() is not None: raise AssertionError('chromium exited')
        else: raise AssertionError('chromium printed no DevTools address')
        pages = [t for t in requests.get(f'http://{m.group(1)}/json/list', timeout=10).json() if t['type'] == 'page']
        self.ws = await websocket_connect(pages[0]['webSocketDebuggerUrl'], max_message_size=64 << 20)

    async def call(self, method, **params):
        "Send one DevTools command and return its result (events in between are skipped)."
        self.n += 1
        self.ws.write_message(json.dumps(dict(id=self.n, method=method, params=params)))
        while True:
            m = json.loads(await self.ws.read_message())
            if m.get('id') != self.n: continue
            assert 'error' not in m, (method, m['error'])
            return m.get('result', {})

    async def js(self, expr):
        "The value of JavaScript expression `expr` in the page."
        r = await self.call('Runtime.evaluate', expression=expr, returnByValue=True)
        return r['result'].get('value')

    async def wait_js(self, expr, timeout=30):
        "Poll `expr` until it is truthy; return its value."
        t0 = time.time()
        while time.time() - t0 < timeout:
            if v := await self.js(expr): return v
            await asyncio.sleep(0.25)
        raise AssertionError(f'timed out waiting for {expr}')

    async def key(self, key, code, vk, shift=False, text=None):
        "Press and release one key."
        ev = dict(key=key, code=code, windowsVirtualKeyCode=vk, modifiers=8 if shift else 0)
        await self.call('Input.dispatchKeyEvent', type='keyDown', **ev, **({'text': text} if text else {}))
        await self.call('Input.dispatchKeyEvent', type='keyUp', **ev)

    async def click(self, selector):
        "Click the middle of the first element that matches `selector`."
        x, y = await self.wait_js(f"(() => {{ const r = document.querySelector('{selector}')?.getBoundingClientRect();"
                                  " return r && [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ('mousePressed', 'mouseReleased'):
            await self.call('Input.dispatchMouseEvent', type=kind, x=x, y=y, button='left', clickCount=1)

    async def screenshot(self, path):
        Path(path).write_bytes(base64.b64decode((await self.call('Page.captureScreenshot', format='png'))['data']))

    def close(self):
        if self.proc.poll() is None: self.proc.kill()
        self.proc.wait(timeout=10)

def session_kernel(base, hdr, path, timeout=40):
    "Wait until the server has a session for notebook `path` whose kernel is idle; return the session."
    import requests
    t0, seen = time.time(), None
    while time.time() - t0 < timeout:
        seen = [s for s in requests.get(f'{base}/api/sessions', headers=hdr, timeout=10).json() if s['path'] == path]
        if seen and seen[0]['kernel']['execution_state'] == 'idle': return seen[0]
        time.sleep(0.25)
    raise AssertionError(f'no idle kernel for {path}: {seen}')

# a cell typed into the page: a tqdm.auto bar (a widget in JupyterLab) and a line to find
UI_CELL = "from tqdm.auto import tqdm\nfor i in tqdm(range(40), desc='widget bar'): pass\nprint('ui cell ran', i)"

def test_make_lab_in_a_browser(tmp_path):
    import requests
    settings = tmp_path/'user-settings'/'@jupyterlab'/'docmanager-extension'
    settings.mkdir(parents=True)
    (settings/'plugin.jupyterlab-settings').write_text('{"autosave": false}')  # the typed cell must never be saved
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(tmp_path/'user-settings'),  # a new student: no settings,
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path/'workspaces'))               # no saved layout
    env.pop('IN_TEST', None)
    env.pop('BALLDETECT_PROGRESS', None)
    start_nb = (ROOT/'nbs'/START).read_bytes()
    proc = subprocess.Popen(['make', '-s', 'lab', f'LAB_PORT={free_port()}'], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True, env=env)
    browser = None
    try:
        url = wait_url(proc)
        assert f'/lab/tree/{START}?token=' in url, url  # the start notebook opens by default
        token = url.split('token=')[1]
        base = url.split('/lab')[0]  # jupyter moves on to another port if this one got taken
        hdr = {'Authorization': f'token {token}'}
        for _ in range(60):  # the URL can be printed a moment before the port accepts connections
            try:
                requests.get(f'{base}/api/status', headers=hdr, timeout=5)
                break
            except requests.ConnectionError: time.sleep(0.5)
        assert requests.get(f'{base}/api/kernels', timeout=10).status_code == 403, 'token auth must stay on'
        servers = [s for s in map(json.loads, subprocess.run([str(ROOT/'.venv/bin/jupyter'), 'server', 'list', '--json'],
                   capture_output=True, text=True).stdout.splitlines()) if s['url'].startswith(base)]
        assert servers, 'server not listed'
        pid = servers[0]['pid']

        browser = Browser(tmp_path/'chromium')
        shot = Path(SHOT) if SHOT else tmp_path/'lab.png'
        async def in_browser():
            await browser.connect()
            await browser.call('Page.navigate', url=url)
            await browser.wait_js("document.querySelector('.jp-Notebook .jp-MarkdownCell h1')?.textContent")
            session = session_kernel(base, hdr, START)
            # the page itself: the start notebook's title, its kernel, no news prompt over it
            title = await browser.js("document.querySelector('.jp-Notebook .jp-MarkdownCell h1').textContent")
            kernel_label = await browser.js("document.querySelector('.jp-Toolbar-kernelName')?.innerText")
            # type and run a cell: select the first cell, insert one below, type, Shift+Enter
            await browser.click('.jp-Notebook .jp-MarkdownCell h1')
            await browser.key('Escape', 'Escape', 27)
            await browser.key('b', 'KeyB', 66, text='b')
            await browser.key('Enter', 'Enter', 13)
            await browser.call('Input.insertText', text=UI_CELL)
            await browser.key('Enter', 'Enter', 13, shift=True)
            printed = await browser.wait_js("[...document.querySelectorAll('.jp-OutputArea-output')]"
                                            ".map(o => o.innerText).find(t => t.includes('ui cell ran'))")
            bar = await browser.wait_js("document.querySelector('.jp-OutputArea .widget-hprogress')?.closest"
                                        "('.widget-hbox')?.innerText")
            await asyncio.sleep(0.5)
            await browser.screenshot(shot)
            news = await browser.js("document.body.innerText.includes('Jupyter news')")
            return session, title, kernel_label, printed, bar, news
        from tornado.ioloop import IOLoop
        session, title, kernel_label, printed, bar, news = IOLoop.current().run_sync(in_browser, timeout=55)
        assert title.startswith('Start here'), title
        assert kernel_label == 'balldetect', kernel_label
        assert session['kernel']['name'] == 'balldetect', session
        assert not news, 'the news prompt is shown'
        assert printed.strip() == 'ui cell ran 39', printed
        bar = bar.replace('\u2007', ' ')  # tqdm pads with figure spaces
        assert 'widget bar' in bar and '40/40' in bar, bar  # one widget, not lines of text
        assert shot.stat().st_size > 20_000

        # the same kernel through its websocket: it sees a JupyterLab session, so training shows widget bars
        code = ('import os, balldetect, tqdm.auto, tqdm.notebook; from balldetect.core import progress_mode; '
                'print(balldetect.__name__, progress_mode(), issubclass(tqdm.auto.tqdm, tqdm.notebook.tqdm), '
                'os.path.basename(os.environ.get("JPY_SESSION_NAME", "")))')
        out, status = IOLoop.current().run_sync(lambda: run_code(base, token, session['kernel']['id'], code))
        assert status == 'ok' and out.split() == ['balldetect', 'bar', 'True', START], (status, out)

        os.kill(pid, signal.SIGTERM)
        proc.wait(timeout=30)
        with pytest.raises(requests.ConnectionError): requests.get(f'{base}/api/status', headers=hdr, timeout=5)
        assert (ROOT/'nbs'/START).read_bytes() == start_nb, 'the start notebook was changed on disk'
    finally:
        if browser is not None: browser.close()
        if proc.poll() is None: os.killpg(proc.pid, signal.SIGKILL)

def test_notebooks_carry_no_outputs_or_widget_state():
    "Committed notebooks (and the templates) keep no outputs, so no progress bars, and no saved widget state."
    nbs = sorted((ROOT/'nbs').rglob('*.ipynb'))
    assert len(nbs) > 20
    for p in nbs:
        nb = json.loads(p.read_text())
        assert 'widgets' not in nb['metadata'], p
        assert not [c for c in nb['cells'] if c.get('outputs')], p
