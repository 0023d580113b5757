"""What each notebook runs in each report preset: the values papermill gives its
``parameters`` cell (``./build.sh reports --preset tiny|full``; the test suite renders
``tiny``).

``tiny`` keeps every notebook to seconds or a few minutes on 2 cores; ``full`` runs the
configurations quoted in the README. A notebook opened interactively uses the defaults of its
own ``parameters`` cell. Train and benchmark presets are named, not copied: ``train_preset``
is a key of :data:`snnlib.train.PRESETS`, notebook 04's ``preset`` a key of
:data:`snnlib.bench.BENCH_PRESETS` (checked by ``tests/test_presets.py``), and
:func:`snnlib.reporting.load_parameters` refuses a name the notebook's ``parameters`` cell
does not define (papermill would silently add it).
"""

from __future__ import annotations

NOTEBOOK_PRESETS: dict[str, dict[str, dict]] = {
    "tiny": {
        "01_lif_dynamics": dict(train_preset="tiny", train_epochs=3),
        "02_sparse_spikes": dict(train_preset="tiny", train_epochs=3, hidden=64,
                                 capacities=[1, 2, 4, 8, 16, 32],
                                 bench_activities=[0.01, 0.05, 0.2], bench_repeats=3,
                                 bench_inner=5, bench_steps=10),
        "03_sparse_training": dict(train_preset="randman", train_epochs=3, hidden=[128],
                                   timing_sizes=[256, 256, 256, 10], timing_steps=50,
                                   timing_batch=32, timing_repeats=3),
        "04_benchmarks": dict(preset="tiny", warmup=1, repeats=3, steps=2, isolate=False),
        "05_decolle": dict(train_preset="tiny", train_epochs=3, memory_steps=[50, 400],
                           measure_memory=True),
        "06_eprop": dict(train_preset="tiny", train_epochs=3, random_feedback_run=True,
                         memory_steps=[50, 400], measure_memory=True),
        "07_datasets": dict(sample_index=0, limit=90, limit_test=30, hidden=128, epochs=3,
                            lr=0.005, min_test_accuracy=0.3),
    },
    "full": {
        "01_lif_dynamics": dict(train_preset="randman", train_epochs=5),
        "02_sparse_spikes": dict(train_preset="randman", train_epochs=5, hidden=128,
                                 capacities=[1, 2, 4, 8, 16, 32, 64], bench_repeats=9,
                                 bench_inner=20, bench_steps=48),
        "03_sparse_training": dict(train_preset="randman", train_epochs=5, hidden=[128],
                                   timing_sizes=[1152, 980, 980, 980, 10], timing_steps=100,
                                   timing_batch=48, timing_repeats=5),
        "04_benchmarks": dict(preset="full", peers=["torch", "snntorch", "norse", "spikingjelly"],
                              warmup=2, repeats=5, steps=3, isolate=True, seed_point=False),
        "05_decolle": dict(train_preset="randman", train_epochs=5,
                           memory_steps=[50, 100, 200, 400], measure_memory=True),
        "06_eprop": dict(train_preset="randman", train_epochs=5, random_feedback_run=True,
                         memory_steps=[50, 100, 200, 400], measure_memory=True),
        "07_datasets": dict(sample_index=0, limit=None, limit_test=None, hidden=512, epochs=10,
                            lr=0.002, min_test_accuracy=0.9, cv_folds=5, cv_limit=None,
                            cv_common={}, cv_recipes={
                                "dense MLP, T = 300 of 1 ms (preset until 2026-12-04)":
                                    dict(readout="spikes", conv={}, lif={"alpha": 0.95},
                                         lr=2e-3, epochs=30, data=dict(size=34),
                                         label_smoothing=0.0),
                                "dense (nmnist-small preset)": {},
                                "sparse_layer 10 % (nmnist-small preset)": dict(
                                    impl="sparse_layer", max_activity=0.1)}),
    },
}
REPORT_PRESETS = tuple(NOTEBOOK_PRESETS)
# Notebooks that time kernels or training steps: a parallel report renders them alone.
TIMED_NOTEBOOKS = ("02_sparse_spikes", "03_sparse_training", "04_benchmarks")
