"""What TensorBoard logging costs: default-profile epochs of the physics forecaster with and without `TensorBoardCB`
(CPU, one thread), alternated so that drift hits both alike; prints the median epoch time of each and the overhead.
usage: OMP_NUM_THREADS=1 python benchmarks/tensorboard_overhead.py DATA [EPOCHS] [ROUNDS]"""
import contextlib, statistics, sys, tempfile
from unittest.mock import patch
import balldetect.callbacks as callbacks
from balldetect.train import train

data = sys.argv[1]
epochs, rounds = (int(a) for a in (sys.argv[2:] + ['3', '2'])[:2]) if len(sys.argv) > 2 else (3, 2)

def epoch_seconds(logging:bool) -> list:
    "The time of each epoch of one run, with or without TensorBoard events."
    off = patch.object(callbacks, 'tensorboard_writer', lambda path: None)
    with tempfile.TemporaryDirectory() as d, (contextlib.nullcontext() if logging else off):
        res = train(dict(task='forecast', arch='physics', data_dir=data, out=d, epochs=epochs, sched='none', device='cpu',
                         progress=False, evaluate_test=False))
    ends = [h['time_s'] for h in res['history']]
    return [b - a for a, b in zip([0.] + ends, ends)][1:]          # the first epoch warms up

times = {False: [], True: []}
for _ in range(rounds):
    for logging in (False, True): times[logging] += epoch_seconds(logging)
off, on = (statistics.median(times[k]) for k in (False, True))
print(f'epochs of {epochs} x {rounds} runs each: without TensorBoard {off:.3f} s, with {on:.3f} s: '
      f'overhead {100 * (on - off) / off:+.1f} %')
