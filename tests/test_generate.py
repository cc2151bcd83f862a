"""`balldetect generate`: course layout and dtypes, identical output for any number of workers, boxes that enclose
their balls, and a stopped run completed by a rerun."""
import argparse, hashlib, os, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from balldetect.core import DETECT_FRAMES
from balldetect.generate import add_generate_args, done_sequences, generate, run_generate, sequence_files
from balldetect.render import box_fits_ball, encode_jpeg, render_background, render_frame
from balldetect.simulate import simulate_sequence, sphere_extents

N, SEED = 8, 5


def gen_cli(argv) -> int:
    "`balldetect generate ARGV` through the module's own parser (the full CLI is tested at the end)."
    p = argparse.ArgumentParser(); add_generate_args(p); return run_generate(p.parse_args(argv))


def digest(d) -> dict:
    d = Path(d)
    return {str(p.relative_to(d)): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(d.rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def one(tmp_path_factory):
    "A small set written with one worker through the command line."
    out = tmp_path_factory.mktemp('one')
    assert gen_cli(['--out', str(out), '--sequences', str(N), '--seed', str(SEED), '--workers', '1', '--quiet']) == 0
    return out


def test_layout_and_dtypes(one):
    names = {f for i in range(N) for f in sequence_files(i)}
    assert set(digest(one)) == names | {'generate.json'}
    for i in range(N):
        p, bb = np.load(one/f'mini_balls_seq/p_{i:05d}.npy'), np.load(one/f'mini_balls_seq/seq_bb_{i:05d}.npy')
        assert p.dtype == bb.dtype == np.float32 and p.shape == (9,) and bb.shape == (20, 9, 4)
        assert sorted(set(p.tolist())) == [0, 1] and p.sum() == 3
        assert not bb[:, p == 0].any()
        b = bb[:, p == 1]
        assert (b == np.round(b)).all() and b.min() >= 0 and b.max() <= 99
        w, h = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
        inner = (b[..., 0] > 0) & (b[..., 1] > 0) & (b[..., 2] < 99) & (b[..., 3] < 99)
        assert w[inner].min() >= 10 and w[inner].max() <= 12 and h[inner].min() >= 10 and h[inner].max() <= 12
        for k, t in enumerate(DETECT_FRAMES):
            lab = np.load(one/f'mini_balls/p_bb_{3*i+k:05d}.npy')
            assert lab.dtype == np.float32 and lab.shape == (9, 5)
            assert (lab[:, 0] == p).all() and (lab[:, 1:] == bb[t]).all()
            img = Image.open(one/f'mini_balls/img_{3*i+k:05d}.jpg')
            assert img.format == 'JPEG' and img.mode == 'RGB' and img.size == (100, 100)


def test_data_layer_opens_it(one):
    data = pytest.importorskip('balldetect.data')
    det, seq = data.DetectionDataset(one, cache=False), data.SequenceDataset(one, cache=False)
    assert len(det) == 3*N and len(seq) == N
    img, pres, boxes = det[4]
    assert img.shape == (3, 100, 100) and pres.sum() == 3 and boxes.shape == (9, 4)


def test_same_bytes_for_any_number_of_workers(one, tmp_path):
    generate(tmp_path, N, seed=SEED, workers=2, progress=False)
    assert digest(tmp_path) == digest(one)


def test_boxes_enclose_the_balls(one):
    "Re-render the written frames with their ball masks: same JPEG bytes, and each box holds its ball's pixels."
    for i in range(N):
        s, rng = simulate_sequence(SEED, i)
        bg, ext = render_background(rng), sphere_extents(s['xy'])
        for k, t in enumerate(DETECT_FRAMES):
            img, masks = render_frame(bg, ext[t], s['scene']['colours'], masks=True)
            assert encode_jpeg(img) == (one/f'mini_balls/img_{3*i+k:05d}.jpg').read_bytes()
            lab = np.load(one/f'mini_balls/p_bb_{3*i+k:05d}.npy')
            for m, c in zip(masks, s['scene']['colours']):
                assert box_fits_ball(m, lab[c, 1:]), (i, t, c, lab[c])


def test_damaged_run_is_completed_by_a_rerun(one, tmp_path):
    generate(tmp_path, N, seed=SEED, workers=1, progress=False)
    (tmp_path/'mini_balls_seq/seq_bb_00003.npy').unlink()
    (tmp_path/'mini_balls/img_00007.jpg').write_bytes(b'\xff\xd8\xff')          # truncated JPEG
    with open(tmp_path/'mini_balls/p_bb_00013.npy', 'r+b') as f: f.truncate(100)  # truncated label
    (tmp_path/'mini_balls/.img_00000.jpg.abcd.tmp').write_bytes(b'half')       # left by a killed writer
    assert done_sequences(tmp_path, N) == [0, 1, 5, 6, 7]
    assert gen_cli(['--out', str(tmp_path), '--sequences', str(N), '--seed', str(SEED), '--workers', '2', '--quiet']) == 0
    assert digest(tmp_path) == digest(one)


def test_killed_run_is_completed_by_a_rerun(one, tmp_path):
    "Kill a generating process at some point; the files left are whole, and a rerun gives the clean result."
    n = 3*N
    code = f'from balldetect.generate import generate; generate({str(tmp_path)!r}, {n}, seed={SEED}, workers=1, progress=False)'
    proc = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(done_sequences(tmp_path, n)) < 2 and proc.poll() is None: time.sleep(0.05)
    proc.send_signal(signal.SIGKILL); proc.wait()
    done = done_sequences(tmp_path, n)
    for i in done:  # what looks complete is complete
        for f in sequence_files(i):
            if i < N: assert hashlib.md5((tmp_path/f).read_bytes()).hexdigest() == digest(one)[f]
    generate(tmp_path, n, seed=SEED, workers=2, progress=False)
    assert done_sequences(tmp_path, n) == list(range(n))
    d = digest(tmp_path)
    assert {f: d[f] for f in digest(one)} == digest(one)
    assert not [f for f in os.listdir(tmp_path/'mini_balls') if f.endswith('.tmp')]


def test_other_seed_into_the_same_folder_is_refused(one, capsys):
    "Through `balldetect.cli`: a clear error and exit code 1, no traceback."
    from balldetect.cli import main
    assert main(['generate', '--out', str(one), '--sequences', str(N), '--seed', '1', '--workers', '1', '--quiet']) == 1
    assert 'seed 5' in capsys.readouterr().err
