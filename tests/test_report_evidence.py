"""Which data each report run rests on (a course folder with too few images: detectors on simulated images,
scored on its real ones; forecasters on its real sequences), what the build records, and the verdict sentences.
No training: papermill and the report notebook are replaced by recorders. Needs no ../shared."""
import json, shutil
from pathlib import Path
import numpy as np
import pytest
from balls_fixture import write_fixture
import balldetect.report as report
from balldetect.core import project_root
from balldetect.evidence import MIN_DETECT_IMAGES, against_bar, bar_paragraph, data_label, detect_images, noise_verdict
from balldetect.metrics import paired_comparison


@pytest.fixture
def course(tmp_path):
    "A made-up course folder: 60 sequences, and the 12 images of its first 4 only (like the real one's 12)."
    d = write_fixture(tmp_path/'course', n_seq=60, images=False)
    write_fixture(tmp_path/'few', n_seq=4)  # the same seed: the same first 4 sequences, with their images
    shutil.rmtree(d/'mini_balls')
    shutil.copytree(tmp_path/'few'/'mini_balls', d/'mini_balls')
    return d


@pytest.fixture
def build(course, tmp_path, monkeypatch):
    "Run `build_report` on `course` with recorders for the runs and the report: (params by run, render kwargs, result)."
    sim = write_fixture(tmp_path/'sim_smoke', n_seq=30)
    (sim/'generate.json').write_text('{"seed": 0}')
    ran, rendered = {}, {}
    def run_experiment(name, nb, params, out):
        ran[name] = params
        return dict(name=name, notebook=nb, status='ok', error=None, duration_s=0.0, profile=params['profile'])
    def render_report(out, runs, data_dir, profile, log=print, **kw):
        rendered.update(kw, data_dir=data_dir)
        return out/'report.html', out/'report.pdf'
    monkeypatch.setattr(report, 'report_data', lambda d=None, profile='default', log=print: Path(d) if d else sim)
    monkeypatch.setattr(report, 'run_experiment', run_experiment)
    monkeypatch.setattr(report, 'render_report', render_report)
    def go(**kw):
        ran.clear(); rendered.clear()
        res = report.build_report('smoke', course, tmp_path/'out', quiet=True, **kw)
        return dict(ran), dict(rendered), res
    return go, sim


def test_few_images_are_counted(course):
    n = detect_images(course)
    assert sum(n.values()) == 12 and min(n.values()) < MIN_DETECT_IMAGES, n


def test_detectors_train_on_simulated_images_and_are_scored_on_the_course_images(build, course):
    go, sim = build
    ran, rendered, res = go()
    detect = [e for e in report.EXPERIMENTS if e.task == 'detect']
    assert {e.name for e in detect} <= set(ran), sorted(ran)
    for e in detect:
        assert ran[e.name]['data_dir'] == str(sim), (e.name, ran[e.name]['data_dir'])
    for e in (e for e in detect if e.template == 'train_detector.ipynb'):
        assert ran[e.name]['real_dir'] == str(course), (e.name, ran[e.name].get('real_dir'))
    assert rendered['detect_dir'] == sim and rendered['data_dir'] == course
    said = [s['msg'] for s in res['steps'] if 'simulated images' in s['msg']]
    assert len(said) == 1 and '12 images' in said[0], res['steps']


def test_forecasters_stay_on_the_course_sequences_with_no_overlapping_real_set(build, course):
    go, _ = build
    ran, _, _ = go()
    for e in (e for e in report.experiments('forecast') if report.planned(e, 'smoke')):
        assert ran[e.name]['data_dir'] == str(course), (e.name, ran[e.name]['data_dir'])
        assert 'real_dir' not in ran[e.name], (e.name, ran[e.name]['real_dir'])  # ../shared's sample overlaps


def test_build_record_has_no_absolute_paths(build, tmp_path):
    go, _ = build
    go()
    rec = json.loads((tmp_path/'out'/'report_build.json').read_text())
    for k in ('html', 'pdf', 'data_dir', 'detect_data_dir'):
        assert not rec[k].startswith('/'), (k, rec[k])
        assert (project_root()/rec[k]).resolve().exists() or k in ('html', 'pdf'), (k, rec[k])
    assert (project_root()/rec['data_dir']).resolve() == (tmp_path/'course').resolve()


def test_readme_only_when_asked(build):
    go, _ = build
    assert go()[1]['readme'] is False           # a smoke build (or any build outside reports/) leaves it alone
    assert go(readme=True)[1]['readme'] is True  # `--readme`


def test_labels_are_counted_from_the_data(course, tmp_path):
    assert data_label(course, 'forecast') == "the course's real sequences: 60 of 7,000, split 48/6/6 by sequence"
    assert data_label(course, 'detect').startswith("the course's real images: 12, split ")
    sim = write_fixture(tmp_path/'sim', n_seq=10)
    (sim/'generate.json').write_text('{"seed": 0}')
    assert data_label(sim, 'detect') == 'simulated images: 30, seed 0, split 24/3/3 by sequence'


def test_verdict_flips_with_the_numbers():
    "Made-up per-item errors: a model that wins, one that loses, a tie; the sentence follows each."
    rng = np.random.default_rng(1)
    base = rng.uniform(2, 4, 300)
    said = {k: noise_verdict('The model', 'copy-last', paired_comparison(base + d + rng.normal(0, .05, 300), base),
                             'MSE') for k, d in (('win', -1.), ('lose', 1.), ('tie', 0.))}
    assert 'beats copy-last' in said['win'] and 'excludes 0' in said['win'], said
    assert 'loses to copy-last' in said['lose'], said
    assert 'within noise' in said['tie'] and 'beats' not in said['tie'], said
    assert len(set(said.values())) == 3
    higher = noise_verdict('The model', 'the threshold', paired_comparison(base + 1, base), 'mean IoU', lower_better=False)
    assert 'beats' in higher, higher


def test_comparison_table_and_paragraph_follow_the_numbers():
    "Made-up per-item errors: the best model wins, ties within noise, loses, or kept no per-item scores; the words follow."
    rng = np.random.default_rng(2)
    base = rng.uniform(2, 4, 300)
    bases = dict(copy_last=dict(mse_px2=9.), bounce=dict(mse_px2=float(base.mean())))
    def said(shift, paired=True, other=True):
        a = base + shift + rng.normal(0, .05, 300)
        models = dict(ours=dict(scores=dict(mse_px2=float(a.mean())),
                                paired=dict(bounce=dict(mse_px2=paired_comparison(a, base))) if paired else None))
        if other: models['rival'] = dict(scores=dict(mse_px2=float(base.mean() + 5)))
        rows = against_bar(models, bases, ['mse_px2'], {'mse_px2'})
        return rows, bar_paragraph(rows, 'mse_px2', {'mse_px2'}, where=' on the test sequences')
    (won_rows, won), (_, tie), (lost_rows, lost), (_, untested) = said(-1.), said(0.), said(1., other=False), said(-1., False)
    assert list(won_rows.verdict) == ['better', 'no per-item scores'] and set(won_rows.baseline) == {'bounce'}
    assert 'excludes 0, so it beats the bar' in won and 'the rival is untested' in won, won
    assert 'holds 0, so the difference is within noise' in tie and 'beats the bar' not in tie, tie
    assert list(lost_rows.verdict) == ['worse'] and 'worse than the bar' in lost, lost
    assert 'kept no per-item scores on the test sequences' in untested and 'excludes' not in untested, untested
    assert len({won, tie, lost, untested}) == 4
    assert bar_paragraph(against_bar({}, bases, ['mse_px2'], {'mse_px2'}), 'mse_px2', {'mse_px2'}) == ''
