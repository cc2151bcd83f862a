"Run `balldetect` in this process as a user would: the exit code and what it printed."
import contextlib, io
from balldetect.cli import main


def run(*argv):
    "`balldetect argv` in this process: (exit code, stdout, stderr); an exception that escapes `main` fails the test."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: rc = main([str(a) for a in argv])
        except SystemExit as e: rc = e.code
    return rc, out.getvalue(), err.getvalue()


def tensorboard_events(folder) -> tuple:
    "The scalars (tag -> [(step, value)]) and HParams entries of the TensorBoard events in `folder`."
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    ea = EventAccumulator(str(folder))
    ea.Reload()
    return {t: [(e.step, e.value) for e in ea.Scalars(t)] for t in ea.Tags()['scalars']}, ea.PluginTagToContent('hparams')
