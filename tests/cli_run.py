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
