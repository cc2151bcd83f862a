"The smoke report end to end: every experiment run with papermill, then HTML with the result tables and a PDF with pages."
import json, re, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

@pytest.fixture(scope='module')
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp('report')
    r = subprocess.run([str(BIN/'balldetect'), 'report', '--profile', 'smoke', '--out', str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=900)
    return out, r

def test_report_runs_every_experiment(report):
    out, r = report
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    build = json.loads((out/'report_build.json').read_text())
    assert [s['status'] for s in build['runs']] == ['ok'] * len(build['runs']), build['runs']
    for s in build['runs']: assert (out/'runs'/s['name']/'status.json').exists()
    lines = r.stdout.splitlines()
    assert any(l.startswith('[') and 's] data:' in l for l in lines), r.stdout   # one line per step with elapsed time
    assert lines[-2:] == [f"report: {out/'report.html'}", f"report: {out/'report.pdf'}"], lines[-3:]

def test_html_holds_result_tables(report):
    out, _ = report
    html = (out/'report.html').read_text()
    for heading in ('Detection', 'Forecasting', 'Hyperparameter search', 'Run environment'): assert heading in html
    for metric in ('colour_set_acc', 'mean_iou', 'ap50', 'centre_err_px', 'mse_px2', 'fde_px'): assert metric in html
    for model in ('heatmap detector (ours)', 'physics forecaster (ours)', 'fastai', 'const_velocity_reflect'): assert model in html
    assert html.count('<table') >= 5 and 'data:image/png;base64' in html
    assert 'cdnjs' not in html and 'def train(' not in html   # local MathJax, code hidden

def test_fastai_figures_are_all_there(report):
    out, _ = report
    html = (out/'report.html').read_text()
    missing = re.findall(r'figure <code>([^<]*)</code> missing', html)
    assert not [m for m in missing if m.startswith('fastai')], missing
    for caption in ("fastai's lr_find", 'fastai detector (small net, soft-argmax): colour confusion', 'fastai DeltaMLP: observed',
                    'physics forecaster, fastai loop: observed', 'fastai beside the custom models'): assert caption in html, caption

def test_pdf_has_pages(report):
    out, _ = report
    from pypdf import PdfReader
    assert len(PdfReader(out/'report.pdf').pages) >= 3

def test_report_refuses_a_folder_without_the_course_layout(tmp_path):
    (tmp_path/'data').mkdir()
    r = subprocess.run([str(BIN/'balldetect'), 'report', '--profile', 'smoke', '--data-dir', str(tmp_path/'data'),
                        '--out', str(tmp_path/'out')], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.startswith(f"error: {tmp_path/'data'}: expected mini_balls/"), r.stderr
    assert 'Traceback' not in r.stderr and not (tmp_path/'out'/'report.html').exists()
