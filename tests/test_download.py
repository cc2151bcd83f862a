"`balldetect download` against a local HTTP server serving archives built here: success, truncation, checksum, traversal."
import argparse, hashlib, http.server, io, os, tarfile, threading
from pathlib import Path
import pytest
from balldetect.core import DataError
from balldetect import datasets
from balls_fixture import write_fixture


class Handler(http.server.BaseHTTPRequestHandler):
    "Serve `server.files[name]`: bytes, or (bytes, declared Content-Length) to fake a connection cut mid-body."
    def do_GET(self):
        self.server.hits.append(self.path)
        item = self.server.files.get(self.path.rsplit('/', 1)[-1])
        if item is None: return self.send_error(404)
        body, size = item if isinstance(item, tuple) else (item, len(item))
        self.send_response(200); self.send_header('Content-Length', str(size)); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler); srv.files, srv.hits = {}, []
    th = threading.Thread(target=srv.serve_forever, daemon=True); th.start()
    srv.url = f'http://127.0.0.1:{srv.server_address[1]}/teaching/data'
    yield srv
    srv.shutdown(); srv.server_close(); th.join(5)


def tgz(folder=None, arc='', extra=()) -> bytes:
    "A .tgz of the files of `folder` under `arc/`, plus `extra` TarInfo members (with their bytes)."
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tf:
        for f in sorted(Path(folder).iterdir()) if folder else []: tf.add(f, arcname=f'{arc}/{f.name}')
        for ti, data in extra: tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def member(name, data=b'!', link=None):
    ti = tarfile.TarInfo(name)
    if link: ti.type, ti.linkname = tarfile.SYMTYPE, link; return ti, None
    ti.size = len(data); return ti, data


@pytest.fixture
def archives(tmp_path):
    "train.tgz / train_seq.tgz of a 4-sequence fixture, with folder names unlike the course layout's."
    src = write_fixture(tmp_path/'src', n_seq=4)
    return {'train.tgz': tgz(src/'mini_balls', 'train/images'), 'train_seq.tgz': tgz(src/'mini_balls_seq', 'seq')}


def sums(files): return {'train.tgz': None, 'train_seq.tgz': hashlib.sha256(files['train_seq.tgz']).hexdigest()}


def leftovers(out):
    "Temporary or partial files left in `out`."
    return [p.name for p in Path(out).rglob('*') if p.name.endswith(('.tmp', '.partial', '.old')) or p.name.startswith('.extract')]


def test_success_and_reuse(tmp_path, server, archives):
    server.files |= archives; out = tmp_path/'course'
    s = datasets.download(out, server.url, progress=False, checksums=sums(archives))
    assert (s['images'], s['sequences']) == (12, 4)
    assert len(list((out/'mini_balls').glob('img_*.jpg'))) == 12 and len(list((out/'mini_balls_seq').glob('seq_bb_*.npy'))) == 4
    assert (out/'split.json').exists() and (out/'mini_balls/.balldetect_cache.pt').exists()
    rec = datasets.load_json(out/'archives.json')
    assert rec['train.tgz']['sha256'] == hashlib.sha256(archives['train.tgz']).hexdigest() and not rec['train.tgz']['verified']
    assert rec['train_seq.tgz']['verified'] and leftovers(out) == []
    n = len(server.hits)
    datasets.download(out, server.url, progress=False, checksums=sums(archives))  # archives present and intact: no fetch
    assert len(server.hits) == n
    from balldetect.data import DetectionDataset, SequenceDataset
    assert len(DetectionDataset(out)) == 12 and SequenceDataset(out)[0][0].shape == (19, 3, 4)


def test_base_url_from_env_and_cli_args(tmp_path, server, archives, monkeypatch, capsys):
    server.files |= archives; monkeypatch.setenv(datasets.URL_ENV, server.url); monkeypatch.setattr(datasets, 'ARCHIVES', sums(archives))
    p = argparse.ArgumentParser(); datasets.add_download_args(p)
    assert datasets.run_download(p.parse_args(['--out', str(tmp_path/'c'), '--no-progress', '--remove-archives'])) == 0
    assert '12 images, 4 sequences' in capsys.readouterr().out
    assert not (tmp_path/'c/train.tgz').exists() and (tmp_path/'c/archives.json').exists()


def test_truncated_download(tmp_path, server, archives):
    body = archives['train.tgz']; server.files |= archives | {'train.tgz': (body[:len(body)//2], len(body))}
    with pytest.raises(DataError, match=f'incomplete: got {len(body)//2} of {len(body)} bytes'):
        datasets.download(tmp_path/'c', server.url, progress=False, checksums=sums(archives))
    assert sorted(p.name for p in (tmp_path/'c').iterdir()) == []  # no partial or final file


def test_checksum_mismatch(tmp_path, server, archives):
    server.files |= archives  # the published sha256 is the real archive's: ours must be refused
    with pytest.raises(DataError, match='train_seq.tgz: sha256 .* does not match the published 90b2ddcb'):
        datasets.download(tmp_path/'c', server.url, progress=False)
    assert sorted(p.name for p in (tmp_path/'c').iterdir()) == ['archives.json', 'train.tgz']


@pytest.mark.parametrize('bad', [member('../escaped.txt'), member('train/../../escaped.txt'), member('/tmp/escaped_abs.txt'),
                                 member('train/link', link='../../..')])
def test_path_traversal_refused(tmp_path, server, archives, bad):
    src = write_fixture(tmp_path/'src2', n_seq=2)
    server.files |= archives | {'train.tgz': tgz(src/'mini_balls', 'train', extra=[bad])}
    out = tmp_path/'deep/course'
    with pytest.raises(DataError, match='unsafe member .*archive refused'):
        datasets.download(out, server.url, progress=False, checksums=sums(archives))
    assert not any(p.name.startswith('escaped') for p in tmp_path.rglob('*')) and not Path('/tmp/escaped_abs.txt').exists()
    assert not (out/'mini_balls').exists() and leftovers(out) == []


def test_bad_contents(tmp_path, server, archives):
    src = write_fixture(tmp_path/'src2', n_seq=2); (src/'mini_balls/p_bb_00004.npy').unlink()
    server.files |= archives | {'train.tgz': tgz(src/'mini_balls', 'x')}
    with pytest.raises(DataError, match=r'img_00004.jpg: has no label file p_bb_00004.npy'):
        datasets.download(tmp_path/'c', server.url, progress=False, checksums=sums(archives))
    assert not (tmp_path/'c/mini_balls').exists() and leftovers(tmp_path/'c') == []
    server.files['train.tgz'] = tgz(src/'mini_balls_seq', 'x')  # no images at all
    with pytest.raises(DataError, match=r'train.tgz: holds no img_\*.jpg files'):
        datasets.download(tmp_path/'c', server.url, progress=False, checksums=sums(archives), force=True)


def test_http_error_and_unreachable(tmp_path, server):
    with pytest.raises(DataError, match='HTTP 404'): datasets.download(tmp_path/'c', server.url, progress=False)
    port = server.server_address[1]; server.shutdown(); server.server_close()
    with pytest.raises(DataError, match='download of .* failed'):
        datasets.fetch(f'http://127.0.0.1:{port}/x.tgz', tmp_path/'x.tgz', progress=False, timeout=5)


def test_cli_error_exit_code(tmp_path, server, capsys, monkeypatch):
    from balldetect import cli
    monkeypatch.setattr(cli, 'COMMANDS', {'download': cli.COMMANDS['download']})  # only this command's module
    rc = cli.main(['download', '--out', str(tmp_path/'c'), '--base-url', server.url, '--no-progress'])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith('error: ') and 'HTTP 404' in err and 'Traceback' not in err
