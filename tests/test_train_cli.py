"`balldetect train / evaluate / predict`: error paths (message + exit code 1) and a smoke round trip."
import json
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from balldetect.core import COLOUR_RGB, COLOURS
from cli_run import run, tensorboard_events


def write_data(root:Path, n_seq:int=24, seed:int=0) -> Path:
    "A small data set in the course layout: 3 balls in straight lines, drawn as discs on grey."
    rng = np.random.default_rng(seed); yy, xx = np.mgrid[:100, :100]
    (root/'mini_balls').mkdir(parents=True); (root/'mini_balls_seq').mkdir()
    for s in range(n_seq):
        cols = np.sort(rng.choice(9, 3, replace=False)); p = np.zeros(9, np.float32); p[cols] = 1
        c0, v = rng.uniform(25, 75, (3, 2)), rng.uniform(-1, 1, (3, 2))  # stays inside the image
        seq = np.zeros((20, 9, 4), np.float32)
        for t in range(20): c = c0 + v*t; seq[t, cols] = np.round(np.concatenate([c - 5.5, c + 5.5], 1))
        np.save(root/f'mini_balls_seq/p_{s:05d}.npy', p); np.save(root/f'mini_balls_seq/seq_bb_{s:05d}.npy', seq)
        for k, t in enumerate((0, 10, 19)):
            img = np.full((100, 100, 3), 200, np.uint8)
            for ci in cols:
                x1, y1, x2, y2 = seq[t, ci]; img[np.hypot(xx - (x1+x2)/2, yy - (y1+y2)/2) <= 5.5] = COLOUR_RGB[COLOURS[ci]]
            Image.fromarray(img).save(root/f'mini_balls/img_{3*s+k:05d}.jpg', quality=95)
            np.save(root/f'mini_balls/p_bb_{3*s+k:05d}.npy', np.concatenate([p[:, None], seq[t]], 1))
    return root

@pytest.fixture(scope='module')
def data(tmp_path_factory): return write_data(tmp_path_factory.mktemp('data')/'D')

@pytest.fixture(scope='module')
def runs(data, tmp_path_factory):
    "One smoke training per task: {task: run folder}."
    root, res = tmp_path_factory.mktemp('runs'), {}
    for task in ('detect', 'forecast'):
        rc, out, err = run('train', '--task', task, '--data-dir', data, '--out', root/task, '--profile', 'smoke', '--quiet')
        assert rc == 0, err
        assert 'run:' in out, out
        res[task] = root/task
    return res

def test_train_writes_run(runs):
    for task, d in runs.items():
        m = json.loads((d/'metrics.json').read_text())
        assert m['status'] == 'ok' and m['task'] == task and m['profile'] == 'smoke'
        assert m['test'] and m['baselines'] and m['n_params'] > 0 and m['train_time_s'] >= 0
        ck = torch.load(d/'best.pt', weights_only=True)   # plain types only
        assert ck['config']['task'] == task and ck['data_fingerprint'] and ck['split']['test']
        assert (d/'history.csv').read_text().startswith('epoch,train_loss,valid_loss')
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        ea = EventAccumulator(str(d))
        ea.Reload()
        panels = ea.Images('predictions')               # TensorBoard's Images tab: predictions on fixed items
        assert [p.step for p in panels] == list(range(m['epochs_run'])) and panels[0].width > panels[0].height, task

@pytest.mark.parametrize('argv, msg', [
    (['--model', 'track'], 'choose detect or forecast'),
    (['--model', 'detect', '--arch', 'yolo'], 'choose one of'),
    (['--model', 'forecast', '--profile', 'huge'], 'smoke, default, full'),
    (['--model', 'forecast', '--data-dir', '/no/such/folder'], 'make data'),
    (['--config', '/no/such/cfg.json'], 'cfg.json'),
])
def test_train_bad_input(argv, msg):
    rc, out, err = run('train', *argv)
    assert rc == 1 and msg in err, (rc, err)
    assert 'Traceback' not in err

def test_train_wrong_layout(tmp_path):
    (tmp_path/'mini_balls_seq').mkdir(); (tmp_path/'mini_balls_seq'/'p_00000.npy').write_bytes(b'junk')
    rc, out, err = run('train', '--task', 'forecast', '--data-dir', tmp_path, '--out', tmp_path/'r', '--profile', 'smoke')
    assert rc == 1 and err.startswith('error: '), err

def test_train_bad_config(tmp_path):
    (tmp_path/'c.json').write_text('[1, 2]')
    rc, out, err = run('train', '--config', tmp_path/'c.json'); assert rc == 1 and 'JSON object' in err, err
    (tmp_path/'c.json').write_text('{"task": "forecast", "lerning_rate": 3}')
    rc, out, err = run('train', '--config', tmp_path/'c.json'); assert rc == 1 and 'lerning_rate' in err, err

def test_evaluate(runs, data, tmp_path):
    rc, out, err = run('evaluate', '--task', 'forecast', '--checkpoint', runs['forecast']/'best.pt', '--data-dir', data,
                       '--indices', '0:8', '--json', tmp_path/'ev.json')
    assert rc == 0, err
    res = json.loads((tmp_path/'ev.json').read_text())
    assert res['n_items'] == 8 and 'const_velocity_reflect' in res['baselines'] and 'mse_px2' in res['scores']
    rc, out, err = run('evaluate', '--model', 'detect', '--checkpoint', runs['detect']/'best.pt', '--data-dir', data)
    assert rc == 0 and 'colour_threshold' in out, err

def test_evaluate_bad_input(runs, data, tmp_path):
    (tmp_path/'corrupt.pt').write_bytes(b'not a checkpoint'); torch.save({'a': 1}, tmp_path/'other.pt')
    cases = [(['--checkpoint', tmp_path/'missing.pt'], 'no such checkpoint'),
             (['--checkpoint', tmp_path/'corrupt.pt'], 'not a readable checkpoint'),
             (['--checkpoint', tmp_path/'other.pt'], 'not a balldetect checkpoint'),
             (['--model', 'detect', '--checkpoint', runs['forecast']/'best.pt'], 'is a forecast checkpoint'),
             (['--model', 'segment', '--checkpoint', runs['forecast']/'best.pt'], 'choose detect or forecast'),
             (['--checkpoint', runs['forecast']/'best.pt', '--data-dir', tmp_path/'nodata'], 'no such folder'),
             (['--checkpoint', runs['forecast']/'best.pt', '--indices', 'x:y'], 'expected a:b'),
             (['--checkpoint', runs['forecast']/'best.pt', '--data-dir', data, '--indices', '500:510'], 'no item 500')]
    for argv, msg in cases:
        rc, out, err = run('evaluate', *argv)
        assert rc == 1 and msg in err, (argv, rc, err)

def test_predict(runs, data, tmp_path):
    imgs = sorted((data/'mini_balls').glob('img_*.jpg'))[:2]
    rc, out, err = run('predict', '--checkpoint', runs['detect']/'best.pt', *imgs, '--out-png', tmp_path/'p.png')
    assert rc == 0, err
    assert out.count('img_0000') >= 2 and any(c in out for c in COLOURS), out
    assert Image.open(tmp_path/'p_img_00000.png').size == (300, 300)
    Image.new('RGB', (64, 64)).save(tmp_path/'small.png'); (tmp_path/'junk.jpg').write_bytes(b'junk')
    for argv, msg in [([imgs[0]], 'is a forecast checkpoint'), ]:
        rc, out, err = run('predict', '--checkpoint', runs['forecast']/'best.pt', *argv); assert rc == 1 and msg in err, err
    for im, msg in [(tmp_path/'small.png', '64x64'), (tmp_path/'junk.jpg', 'not a readable image'), (tmp_path/'no.jpg', 'no such image')]:
        rc, out, err = run('predict', '--checkpoint', runs['detect']/'best.pt', im); assert rc == 1 and msg in err, (im, err)

def test_resume_matches_uninterrupted(data, tmp_path):
    "A run trained 2 epochs and resumed to 3 ends where a 3-epoch run ends (CPU, same seed)."
    common = ['train', '--model', 'forecast', '--arch', 'mlp', '--data-dir', data, '--profile', 'smoke', '--quiet',
              '--config', tmp_path/'c.json']
    (tmp_path/'c.json').write_text(json.dumps(dict(sched='none', device='cpu')))
    assert run(*common, '--out', tmp_path/'full', '--epochs', 3)[0] == 0
    assert run(*common, '--out', tmp_path/'part', '--epochs', 2)[0] == 0
    assert run(*common, '--out', tmp_path/'part', '--epochs', 3, '--resume')[0] == 0
    h = [json.loads((tmp_path/r/'history.json').read_text()) for r in ('full', 'part')]
    assert [e['valid_loss'] for e in h[0]] == [e['valid_loss'] for e in h[1]]
    w = [torch.load(tmp_path/r/'last.pt', weights_only=True)['state']['model'] for r in ('full', 'part')]
    assert all(torch.equal(w[0][k], w[1][k]) for k in w[0])
    for r, hist in zip(('full', 'part'), h):                  # TensorBoard: each epoch once, resumed or not
        scalars, hparams = tensorboard_events(tmp_path/r)
        assert [s for s, _ in scalars['loss/valid']] == [e['epoch'] for e in hist] == [0, 1, 2], (r, scalars['loss/valid'])
        assert np.allclose([v for _, v in scalars['valid/mse_px2']], [e['mse_px2'] for e in hist], rtol=1e-6)
        assert np.allclose([v for _, v in scalars['opt/lr']], [e['lr'] for e in hist], rtol=1e-6)
        assert '_hparams_/session_start_info' in hparams and 'time/items_per_s' in scalars

