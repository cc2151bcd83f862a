"""Property-based tests of every reader of user files: `.npy` labels, images, train configs, checkpoints, course
archives. Each generated case must end in a correct result or in one `DataError` (one `error:` line) naming the file,
never in another exception, and a refused config writes nothing. The counts of cases are set here (`CASES`) and
printed at the end of the run."""
import io, json, math, os, pickle, tarfile, tempfile
from pathlib import Path
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image
from balldetect.core import IMG_SIZE, DataError
from balldetect.data import check_boxes, decode_jpeg, read_npys
from balldetect.evaluate import read_image
from balldetect.models import CKPT_FORMAT
from balldetect.models import build_model, load_model
from balldetect.datasets import safe_extract
from balldetect.profiles import TRAIN_DEFAULTS, check_config
from cli_run import run

CASES = dict(npy=600, boxes=600, image=400, config=500, checkpoint=200, archive=300)
TRIED = dict.fromkeys(CASES, 0)
REFUSED = dict.fromkeys(CASES, 0)
FAST = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])

def refused_naming(e:Exception, path) -> bool:
    "Whether `e` is a `DataError` that names `path` on one line."
    return isinstance(e, DataError) and str(path) in str(e) and '\n' not in str(e)

@pytest.fixture(scope='module', autouse=True)
def count_cases():
    yield
    print('\nfuzzed cases tried (refused): ' + ', '.join(f'{k} {v} ({REFUSED[k]})' for k, v in TRIED.items())
          + f'; {sum(TRIED.values())} in all')


# --- .npy files: headers, dtypes, shapes, truncation -----------------------------------------------------------------
dtypes = st.sampled_from(['<f4', '<f8', '<i4', '|u1', '|b1', '<U3', '|O', '<c8', '>f4'])
shapes = st.one_of(st.just((9, 4)), st.lists(st.integers(0, 10), max_size=3).map(tuple))

@settings(max_examples=CASES['npy'], **FAST)
@given(dtype=dtypes, shape=shapes, cut=st.one_of(st.none(), st.integers(0, 400)), junk=st.binary(max_size=8),
       fortran=st.booleans())
def test_npy_reader(tmp_path, dtype, shape, cut, junk, fortran):
    TRIED['npy'] += 1
    buf = io.BytesIO()
    arr = np.zeros(shape, dtype=np.dtype(dtype)) if dtype != '|O' else np.empty(shape, object)
    np.lib.format.write_array(buf, np.asfortranarray(arr) if fortran else arr, allow_pickle=True)
    b = buf.getvalue()
    b = (b[:cut] if cut is not None else b) + junk
    p = tmp_path/'p_bb_00000.npy'
    p.write_bytes(b)
    try: out = read_npys([p], (9, 4))
    except Exception as e:
        REFUSED['npy'] += 1
        assert refused_naming(e, p), repr(e)
        return
    assert out.shape == (1, 9, 4) and out.dtype == np.float32


# --- label values: NaN, inf, negative and out-of-image boxes, presence without exactly three ones --------------------
values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0., 1., 10., 50., 99., 100., -1.]))

@st.composite
def labels(draw):
    "Presence (9,) and boxes (36,): lawful ones (three colours, boxes inside the image), then perturbed at random."
    on = draw(st.sets(st.integers(0, 8), min_size=3, max_size=3))
    presence = [1. if c in on else 0. for c in range(9)]
    boxes = []
    for c in range(9):
        x, y = draw(st.integers(0, 88)), draw(st.integers(0, 88))
        boxes += [x, y, x + 11, y + 11] if c in on else [0, 0, 0, 0]
    for _ in range(draw(st.integers(0, 2))):                                  # zero, one or two faults
        if draw(st.booleans()): presence[draw(st.integers(0, 8))] = draw(st.sampled_from([0., 1., 2., -1., math.nan]))
        else: boxes[draw(st.integers(0, 35))] = draw(values)
    return presence, boxes

@settings(max_examples=CASES['boxes'], **FAST)
@given(case=labels())
def test_label_rules(case):
    presence, boxes = case
    TRIED['boxes'] += 1
    with np.errstate(over='ignore'): pres, bx = np.array([presence], np.float32), np.array(boxes, np.float32).reshape(1, 1, 9, 4)
    try: check_boxes(pres, bx, ['p_00000.npy'], ['seq_bb_00000.npy'])
    except Exception as e:
        REFUSED['boxes'] += 1
        assert isinstance(e, DataError) and e.path.name in ('p_00000.npy', 'seq_bb_00000.npy'), repr(e)
        return
    on = pres[0] == 1
    assert on.sum() == 3 and np.isfinite(bx).all() and (bx >= 0).all() and (bx <= IMG_SIZE).all()
    assert (bx[0, 0, ~on] == 0).all() and (bx[0, 0, on, 2] > bx[0, 0, on, 0]).all()


# --- images: truncated JPEG, PNG under a .jpg name, grayscale, CMYK, wrong size, junk ---------------------------------
@settings(max_examples=CASES['image'], **FAST)
@given(mode=st.sampled_from(['RGB', 'L', 'CMYK', 'RGBA', 'P', '1']), fmt=st.sampled_from(['JPEG', 'PNG', 'BMP', 'junk']),
       size=st.sampled_from([(100, 100), (100, 99), (1, 1), (300, 300)]), cut=st.one_of(st.none(), st.integers(0, 2000)),
       seed=st.integers(0, 3))
def test_image_readers(tmp_path, mode, fmt, size, cut, seed):
    TRIED['image'] += 1
    if fmt == 'junk': b = np.random.default_rng(seed).bytes(300)
    else:
        im = Image.fromarray(np.random.default_rng(seed).integers(0, 256, (*size[::-1], 3), dtype=np.uint8)).convert(mode)
        if fmt == 'JPEG' and mode in ('RGBA', 'P', '1'): im = im.convert('RGB')
        buf = io.BytesIO()
        try: im.save(buf, fmt)
        except OSError: im.convert('RGB').save(buf := io.BytesIO(), fmt)   # a mode the format cannot hold
        b = buf.getvalue()
    p = tmp_path/'img_00000.jpg'
    p.write_bytes(b[:cut] if cut is not None else b)
    for reader, shape in ((decode_jpeg, (3, 100, 100)), (read_image, (100, 100, 3))):
        try: a = reader(p)
        except Exception as e:
            REFUSED['image'] += reader is read_image
            assert refused_naming(e, p), (reader.__name__, repr(e))
            continue
        assert a.shape == shape and a.dtype == np.uint8, (reader.__name__, a.shape)


# --- train configs: wrong types, out-of-range values, unknown keys, a missing task ------------------------------------
json_values = st.recursive(st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats(allow_nan=True) |
                           st.sampled_from(['detect', 'forecast', 'mlp', 'physics', 'smoke', 'adam', 'step', 'many', '']),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                           max_leaves=4)
config_keys = st.sampled_from([k for k in TRAIN_DEFAULTS if k not in ('data_dir', 'out')] + ['model', 'lerning_rate'])

class Reached(KeyboardInterrupt):
    "Raised by the stand-in for `train`: the config was accepted."

@settings(max_examples=CASES['config'], **FAST)
@given(cfg=st.dictionaries(config_keys, json_values, max_size=5), task=st.sampled_from([None, 'detect', 'forecast']))
def test_train_config_reader(tmp_path, monkeypatch, cfg, task):
    TRIED['config'] += 1
    if task: cfg = {'task': task, **cfg}
    accepted = []
    def stand_in(config):
        accepted.append(config)
        raise Reached
    monkeypatch.setattr('balldetect.train.train', stand_in)
    path, out = tmp_path/'config.json', tmp_path/'run'
    path.write_text(json.dumps(cfg))
    rc, stdout, err = run('train', '--config', path, '--data-dir', tmp_path, '--out', out, '--quiet')
    assert not out.exists()                                                   # nothing written either way
    if accepted:
        assert rc == 130
        check_config(accepted[0])
        return
    REFUSED['config'] += 1
    assert rc == 1 and err.startswith('error: ') and err.count('\n') == 1, (cfg, err)
    assert str(path) in err and 'internal error' not in err, (cfg, err)


# --- checkpoints: truncated, of the other task, a pickle with a code payload ------------------------------------------
class Payload:
    def __reduce__(self): return (print, ('this ran',))

@pytest.fixture(scope='module')
def checkpoint_bytes():
    "A real forecaster checkpoint's bytes."
    buf = io.BytesIO()
    model = build_model('forecast', 'mlp', dict(widths=[16]))
    torch.save(dict(format=CKPT_FORMAT, model=model.state_dict(),
                    config=dict(task='forecast', arch='mlp', arch_kwargs=dict(widths=[16]))), buf)
    return buf.getvalue()

@settings(max_examples=CASES['checkpoint'], **FAST)
@given(kind=st.sampled_from(['whole', 'cut', 'flip', 'payload', 'plain_pickle']), at=st.integers(0, 10**5),
       task=st.sampled_from([None, 'detect', 'forecast']))
def test_checkpoint_reader(tmp_path, checkpoint_bytes, kind, at, task, capsys):
    TRIED['checkpoint'] += 1
    b = checkpoint_bytes
    if kind == 'cut': b = b[:at % len(b)]
    if kind == 'flip': b = b[:at % len(b)] + bytes([b[at % len(b)] ^ 0xFF]) + b[at % len(b) + 1:]
    if kind == 'payload':
        buf = io.BytesIO()
        torch.save(dict(format=CKPT_FORMAT, model=Payload()), buf)
        b = buf.getvalue()
    if kind == 'plain_pickle': b = pickle.dumps(Payload())
    p = tmp_path/'best.pt'
    p.write_bytes(b)
    try: model, ck = load_model(p, task)
    except Exception as e:
        REFUSED['checkpoint'] += 1
        assert refused_naming(e, p), repr(e)
        assert 'this ran' not in capsys.readouterr().out
        return
    assert ck['config']['task'] == 'forecast' and task in (None, 'forecast') and not model.training


# --- the course archive: links, absolute paths, `..` ----------------------------------------------------------------
names = st.lists(st.sampled_from(['mini_balls', 'a', '..', '.', '', 'x.npy']), min_size=1, max_size=3).map('/'.join) | \
        st.sampled_from(['/etc/x', 'C:/x', '\\\\host\\x', '../x'])
members = st.lists(st.tuples(st.sampled_from(['file', 'dir', 'symlink', 'hardlink']), names, names), min_size=1, max_size=4)

@settings(max_examples=CASES['archive'], **FAST)
@given(entries=members)
def test_archive_reader(tmp_path, entries):
    TRIED['archive'] += 1
    root = Path(tempfile.mkdtemp(dir=tmp_path))                               # one per example
    archive, dest = root/'a.tgz', root/'dest'
    with tarfile.open(archive, 'w:gz') as tf:
        for kind, name, target in entries:
            info = tarfile.TarInfo(name or 'empty')
            info.type = dict(file=tarfile.REGTYPE, dir=tarfile.DIRTYPE, symlink=tarfile.SYMTYPE, hardlink=tarfile.LNKTYPE)[kind]
            info.linkname = target if kind in ('symlink', 'hardlink') else ''
            data = b'x' if kind == 'file' else b''
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    before = sorted(root.rglob('*'))
    try: safe_extract(archive, dest)
    except Exception as e:
        REFUSED['archive'] += 1
        assert refused_naming(e, archive), repr(e)
        return
    for f in dest.rglob('*'):                                                 # no link leads out of dest
        assert Path(os.path.realpath(f)).is_relative_to(os.path.realpath(dest)), f
    assert [f for f in sorted(root.rglob('*')) if not f.is_relative_to(dest)] == before   # nothing written beside it
