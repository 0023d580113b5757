"""Subprocess entry of tests/train/test_distribute.py (not a test module).

Usage: ``python tests/train/dist_worker.py MODE OUT_NPZ IMPL [N_LOGICAL_CPUS]``; MODE is
``single``, ``mirrored`` or ``multiworker`` (TF_CONFIG from the environment). Trains the tiny
preset for one epoch on a global batch that divides the training set and saves the final
weights to OUT_NPZ.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(mode: str, out: str, impl: str, n_cpus: int = 1) -> None:
    import numpy as np
    import tensorflow as tf

    if n_cpus > 1:  # must happen before TensorFlow initialises its devices
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n_cpus)])
    from snnlib.train import TrainConfig, train_and_evaluate

    config = TrainConfig.from_preset(
        "tiny", epochs=1, batch_size=40, progress=False, impl=impl,
        max_activity=0.5 if impl != "dense" else None,
        strategy=None if mode == "single" else mode)
    result = train_and_evaluate(config)
    np.savez(out, *[w.numpy() for w in result["model"].weights],
             loss=result["history"][-1]["train_loss"])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 1)
