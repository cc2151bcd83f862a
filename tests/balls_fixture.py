"A tiny dataset in the course layout for tests and benchmarks: coloured discs on grey, consistent labels."
from pathlib import Path
import numpy as np
from PIL import Image, ImageDraw
from balldetect.core import COLOURS, COLOUR_RGB, DETECT_FRAMES, N_STEPS


def write_fixture(root, n_seq:int=4, seed:int=0, images:bool=True, sequences:bool=True, quality:int=90) -> Path:
    "Write `n_seq` sequences to `root/mini_balls_seq` and their frames (0, 10, 19) to `root/mini_balls`."
    rng, root = np.random.default_rng(seed), Path(root)
    (root/'mini_balls').mkdir(parents=True, exist_ok=True); (root/'mini_balls_seq').mkdir(parents=True, exist_ok=True)
    for s in range(n_seq):
        cols = np.sort(rng.choice(9, 3, replace=False))
        pos, vel = rng.uniform(12, 88, (3, 2)), rng.uniform(-4, 4, (3, 2))
        bb = np.zeros((N_STEPS, 9, 4), np.float32)
        for t in range(N_STEPS):
            bb[t, cols] = np.round(np.concatenate([pos - 5.5, pos + 5.5], 1)).clip(0, 99)
            pos = pos + vel
            hit = (pos < 6) | (pos > 94); vel[hit] *= -1; pos = pos.clip(6, 94)
        p = np.zeros(9, np.float32); p[cols] = 1
        if sequences:
            np.save(root/f'mini_balls_seq/p_{s:05d}.npy', p); np.save(root/f'mini_balls_seq/seq_bb_{s:05d}.npy', bb)
        if not images: continue
        for k, t in enumerate(DETECT_FRAMES):
            i, img = 3*s + k, Image.new('RGB', (100, 100), (128, 128, 128))
            draw = ImageDraw.Draw(img)
            for c in cols: draw.ellipse([float(v) for v in bb[t, c]], fill=COLOUR_RGB[COLOURS[c]])
            img.save(root/f'mini_balls/img_{i:05d}.jpg', quality=quality)
            np.save(root/f'mini_balls/p_bb_{i:05d}.npy', np.concatenate([p[:, None], bb[t]], 1))
    return root
