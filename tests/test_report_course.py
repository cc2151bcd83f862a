"The smoke report on data in the course layout (no simulator marker): every run ok, each marked as course data."
import json, subprocess, sys
from pathlib import Path
import pytest
from balls_fixture import write_fixture

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# 330 sequences: 264 train, capped at 256 by the smoke profile, give the physics forecaster (batch 128, 2 epochs)
# 4 optimiser steps, where the one-cycle warm-up is a single step (it used to divide by zero there)
N_SEQ = 330
# every template on the course layout, each once (the searches and the second fastai runs of a template add
# nothing here: tests/test_report.py runs them all)
RUNS = ['detector_heatmap', 'detector_ref', 'fastai_detector', 'forecaster_physics', 'forecaster_mlp',
        'fastai_forecaster']

@pytest.fixture(scope='module')
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp('course_report')
    data, out = write_fixture(root/'course', n_seq=N_SEQ), root/'out'
    r = subprocess.run([str(BIN/'balldetect'), 'report', '--profile', 'smoke', '--data-dir', str(data), '--out', str(out),
                        '--only', *RUNS],
                       cwd=ROOT, capture_output=True, text=True, timeout=900)
    return out, r

def test_every_run_ok_on_course_data(report):
    out, r = report
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert 'Traceback' not in r.stderr, r.stderr[-3000:]
    build = json.loads((out/'report_build.json').read_text())
    assert [s['name'] for s in build['runs']] == RUNS, build['runs']
    assert [s['status'] for s in build['runs']] == ['ok'] * len(RUNS), build['runs']

def test_runs_marked_as_course_data(report):
    out, _ = report
    for name in ('detector_heatmap', 'detector_ref', 'forecaster_physics', 'forecaster_mlp'):
        m = json.loads((out/'runs'/name/'metrics.json').read_text())
        assert m['data_source'] == 'course' and m['status'] == 'ok', (name, m['data_source'], m['status'])
    notes = json.loads((out/'runs'/'forecaster_physics'/'metrics.json').read_text())['notes']
    assert notes and 'constant learning rate' in notes[0], notes
