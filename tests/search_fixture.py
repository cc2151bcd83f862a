"A stand-in for `balldetect.train.train` in the search's tests and lessons: it answers at once, without training."
import math


def toy_train(config:dict) -> dict:
    "A stand-in for `train`: validation metrics from a made-up function of the config, NaN when lr > 0.02."
    lr, wd, kw = config['lr'], config.get('wd', 1e-5), config.get('arch_kwargs', {})
    drop = sum(v for k, v in kw.items() if 'drop' in k and isinstance(v, float))
    x = (math.log10(lr) + 2.5)**2 + 0.1 * (math.log10(wd) + 5)**2 + 0.5 * drop
    x += 0.01 * math.log2(config.get('bs', 32))
    x = float('nan') if lr > 0.02 else x
    m = dict(mean_iou=1 / (1 + x), colour_set_acc=1.0,
             centre_err_px=x) if config['task'] == 'detect' else dict(mse_px2=1 + x)
    return dict(status='ok', error=None, valid=m, test=None, epochs_run=config.get('epochs', 1), n_params=0)
