"""What a training run depends on: :class:`TrainConfig` and the named presets.

Presets are code: :data:`PRESETS` maps a name to a complete :class:`TrainConfig`, and
:meth:`TrainConfig.from_preset` is the one way the command line (``python -m snnlib train
--preset``) and the notebooks (their ``train_preset`` parameter) turn a name into a run.
The neuron constants are one :class:`snnlib.functional.LIFParams` (field ``lif``), not copies.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from snnlib.data import load_dataset
from snnlib.data.augment import Augmentation
from snnlib.functional.conv import ConvSpec
from snnlib.functional.params import LIFParams
from snnlib.layers.classifier import check_label_smoothing, validate_options
from snnlib.presets import choose
from snnlib.train.distribute import STRATEGIES

LIF_FIELDS = tuple(f.name for f in dataclasses.fields(LIFParams))
LR_SCHEDULES = ("constant", "cosine")


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run depends on.

    The network is ``[n_in, *hidden, n_classes]``; ``n_in``/``n_classes`` come from the data.
    ``lif`` holds the neuron constants (default: the seed's; a dict of its fields is
    accepted). ``rule`` picks the learning rule (``"bptt"``, ``"eprop"``, ``"decolle"``; the
    online rules need ``impl="dense"`` and ``readout="spikes"``); ``feedback`` is e-prop's
    hidden-layer feedback (``"symmetric"`` or ``"random"``). The sparse implementations need
    ``max_activity`` (the capacity rule of their hidden layers) and take their input as index
    lists of capacity ``input_capacity`` (``None``: the most input spikes of any step of the
    data, so none is dropped). ``augment`` holds the per-epoch event augmentation of a
    neuromorphic dataset (fields of :class:`snnlib.data.augment.Augmentation`, e.g.
    ``{"shift": 2}``; empty: none). ``lr_schedule``: ``"constant"`` (Adam at ``lr``) or
    ``"cosine"`` (``lr_k = lr (1 + cos(pi k / K)) / 2`` over the run's ``K`` steps).
    ``weight_decay``: 0 trains with Adam; ``lambda > 0`` with AdamW, i.e. Adam's step plus the
    decoupled decay ``w <- w - lr_k lambda w`` of every weight each step.
    ``label_smoothing``: ``eps`` of the loss's targets ``(1 - eps) onehot(y) + eps / K``
    (0: plain cross-entropy; :class:`snnlib.layers.SNNClassifier`). ``conv``:
    convolutional LIF layers before ``hidden`` (fields of
    :class:`snnlib.functional.conv.ConvSpec` but ``in_shape``, which is the dataset's sensor
    layout, e.g. ``{"channels": 8, "kernel": 5, "stride": 2}`` for one layer; a field given
    as a list holds one value per layer, e.g. ``{"channels": [16, 32], "kernel": [5, 3]}``;
    a list of such dicts is one per layer; empty: none).
    """

    dataset: str = "randman"
    impl: str = "dense"
    hidden: tuple[int, ...] = (128,)
    readout: str = "spikes"
    epochs: int = 10
    batch_size: int = 48
    lr: float = 1e-3
    lr_schedule: str = "constant"
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    seed: int = 0
    lif: LIFParams = dataclasses.field(default_factory=LIFParams)
    max_activity: float | None = None
    input_capacity: int | None = None
    data: dict = dataclasses.field(default_factory=dict)
    augment: dict = dataclasses.field(default_factory=dict)
    conv: dict | list = dataclasses.field(default_factory=dict)
    out_dir: str | None = None
    progress: bool = True
    jit_compile: bool = False
    strategy: str | None = None
    checkpoint_dir: str | None = None
    checkpoint_every: int | None = None
    keep_checkpoints: int = 3
    resume: bool = False
    tensorboard_dir: str | None = None
    rule: str = "bptt"
    feedback: str = "symmetric"

    def __post_init__(self):
        if isinstance(self.lif, dict):
            self.lif = LIFParams(**self.lif)
        if not isinstance(self.lif, LIFParams):
            raise ValueError(f"lif must be a LIFParams (or a dict of its fields); got {self.lif!r}")
        self.conv = copy_conv(self.conv)
        layers = self.conv if isinstance(self.conv, list) else [self.conv]
        if any(not isinstance(layer, dict) or "in_shape" in layer for layer in layers):
            raise ValueError("conv takes dicts of channels, kernel, stride and init_scale; its "
                             f"in_shape is the dataset's sensor layout; got {self.conv!r}")
        self.conv_layers()  # validates the names and values
        validate_options(impl=self.impl, readout=self.readout, rule=self.rule,
                         feedback=self.feedback, conv=bool(self.conv))
        if self.impl != "dense" and self.max_activity is None:
            raise ValueError(f"impl={self.impl!r} needs max_activity (the capacity of its hidden "
                             "layers, e.g. --max-activity 0.05); use 1.0 for full capacity")
        self.hidden = tuple(int(h) for h in self.hidden)
        if isinstance(self.augment, Augmentation):
            self.augment = self.augment.params()
        self.augment = dict(self.augment or {})
        Augmentation.from_value(self.augment)  # validates the names and values
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number; got {self.lr!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}; got {self.lr_schedule!r}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"weight_decay must be a finite number >= 0 (0: plain Adam); got "
                             f"{self.weight_decay!r}")
        self.label_smoothing = check_label_smoothing(self.label_smoothing, self.rule)
        self.lif_params()  # validates a per-layer th2 against the network early
        if self.strategy is not None and self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be None or one of {STRATEGIES}; got {self.strategy!r}")
        if self.checkpoint_every is not None and int(self.checkpoint_every) < 1:
            raise ValueError(f"checkpoint_every must be >= 1 step; got {self.checkpoint_every!r}")
        if int(self.keep_checkpoints) < 1:
            raise ValueError(f"keep_checkpoints must be >= 1; got {self.keep_checkpoints!r}")
        if (self.resume or self.checkpoint_every) and self.checkpoint_directory() is None:
            raise ValueError("checkpoint_every/resume need checkpoint_dir or out_dir")

    def checkpoint_directory(self) -> Path | None:
        """Where checkpoints go: ``checkpoint_dir``, else ``<out_dir>/checkpoints``."""
        if self.checkpoint_dir:
            return Path(self.checkpoint_dir)
        return Path(self.out_dir) / "checkpoints" if self.out_dir else None

    @classmethod
    def from_preset(cls, preset: str, **overrides) -> "TrainConfig":
        """The preset ``preset`` with the fields in ``overrides`` replaced (``None`` values are
        ignored). Neuron constants may be given by name (``alpha=0.9``, ``th2=0.9``): they
        replace those fields of the preset's ``lif``."""
        base = choose(PRESETS, preset, "train preset")
        given = {k: v for k, v in overrides.items() if v is not None}
        neuron = {k: given.pop(k) for k in list(given) if k in LIF_FIELDS}
        if neuron:
            given["lif"] = dataclasses.replace(given.get("lif", base.lif), **neuron)
        fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(cls)}
        return cls(**{**fields, "data": dict(base.data), "augment": dict(base.augment),
                      "conv": copy_conv(base.conv), **given})

    def conv_layers(self) -> int:
        """How many convolutional layers ``conv`` describes (the sensor, any large one here,
        comes with the data)."""
        return len(ConvSpec.stack(self.conv, in_shape=(1 << 20, 1 << 20, 1)))

    def lif_params(self) -> LIFParams:
        """The neuron constants of the network.

        ``th2`` (a number) masks the gradients of the hidden LIF layers; a spiking output layer
        (``readout="spikes"``) is never masked, as in the seed (th2 = -100 on the output). A
        tuple with one entry per hidden LIF layer (a conv layer first) gets the spiking
        output's ``None`` appended; one with an entry per LIF layer is passed through unchanged.
        """
        th2 = self.lif.th2
        n_hidden = len(self.hidden) + self.conv_layers()
        if isinstance(th2, (int, float)) and self.readout == "spikes":
            return self.lif.replace(th2=(float(th2),) * n_hidden + (None,))
        n_lif = n_hidden + (1 if self.readout == "spikes" else 0)
        if isinstance(th2, tuple) and len(th2) not in (n_hidden, n_lif):
            raise ValueError(f"th2 has {len(th2)} values; this network has {n_hidden} hidden LIF "
                             f"layers (a conv layer counts): give one value per hidden layer, or "
                             f"one number for all")
        if isinstance(th2, tuple) and len(th2) < n_lif:
            return self.lif.replace(th2=th2 + (None,))  # one per hidden layer: output unmasked
        return self.lif

    def to_dict(self) -> dict:
        """The fields as plain Python values (``lif`` as a dict of its fields): what
        ``config.json`` of a run directory holds (:func:`json.dumps` writes tuples as lists);
        :meth:`from_dict` turns it back into an equal config."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, fields: dict) -> "TrainConfig":
        """The config of :meth:`to_dict`'s ``fields`` (lists where tuples were are fine).

        Raises ``ValueError`` naming unknown fields (a config of another snnlib version)."""
        if not isinstance(fields, dict):
            raise ValueError(f"fields must be a dict of TrainConfig fields; got {fields!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown} (written by another snnlib "
                             f"version?); known fields: {', '.join(sorted(known))}")
        return cls(**fields)


def load_config_dataset(config: TrainConfig, *, progress: bool = True):
    """The :class:`snnlib.data.SpikeDataset` of a run: ``load_dataset(config.dataset,
    seed=config.seed, index_lists=True, **config.data)`` (neuromorphic sets stay index lists;
    the run's feeds build each batch). A binning progress bar shows when ``progress`` and
    ``config.progress`` allow it and the data options do not say ``progress=False``."""
    options = dict(config.data)  # a "progress" option of the data can only turn bars off
    progress = bool(options.pop("progress", True)) and config.progress and progress
    return load_dataset(config.dataset, seed=config.seed, progress=progress, index_lists=True,
                        **options)


def copy_conv(conv) -> dict | list:
    """A copy of a ``conv`` field (a dict, or a list of dicts; ``None``: ``{}``) that shares no
    mutable value with it."""
    if isinstance(conv, (list, tuple)):
        return [dict(layer) if isinstance(layer, dict) else layer for layer in conv]
    if isinstance(conv, dict):
        return {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in conv.items()}
    return {} if conv is None else conv


def parse_th2(text: str) -> float | tuple[float | None, ...] | None:
    """``--th2`` of the command line: ``"0.9"`` (every hidden layer), ``"none"`` (no mask), or
    one value per hidden layer, e.g. ``"0.5,0.9"`` (a conv layer first): a tuple."""
    try:
        values = tuple(None if v.strip().lower() == "none" else float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"th2 must be a number, 'none', or comma-separated values, one per "
                         f"hidden layer (e.g. 0.5,0.9); got {text!r}") from None
    return values[0] if len(values) == 1 else values


PRESETS: dict[str, TrainConfig] = {
    # The seed's randman task (10 classes, 128 units, 100 steps, 1000 samples per class) with
    # one hidden layer; tests/test_training.py checks >= 85% test accuracy.
    "randman": TrainConfig(dataset="randman", hidden=(128,), readout="spikes", epochs=5,
                           batch_size=48, lr=3e-3, lif=LIFParams(alpha=0.9)),
    # The embedded 1,000 real N-MNIST recordings (900 train / 100 held out) at the sensor's
    # full 34x34x2 (2312 inputs), T = 100 steps of 3 ms, shifted by up to +-2 pixels every
    # epoch (tonic); a conv LIF layer (16 channels, 5x5, stride 2: 17x17x16), 512 LIF neurons
    # and a leaky readout; initial weights x 1.5, th2 = 0.9, Adam at 4e-3 with cosine decay
    # over 60 epochs, label smoothing 0.1. Chosen by 5-fold cross-validation on the 1,000
    # (notebook 07, README): dense 96.2 +- 1.2 %, impl="sparse_layer" with max_activity=0.1
    # 96.4 +- 1.0 %. On 2 cores an epoch of the 900 training recordings takes 11-13 s dense
    # (60 epochs: about 11-13 minutes) and 2.5-3.7 s with sparse_layer (about 2.5-4 minutes).
    "nmnist-small": TrainConfig(dataset="nmnist-small", hidden=(512,), readout="leaky",
                                epochs=60, batch_size=32, lr=4e-3, lr_schedule="cosine",
                                label_smoothing=0.1,
                                lif=LIFParams(alpha=0.95, th2=0.9, weight_mul=1.5),
                                data=dict(size=34, n_steps=100, dt=3000),
                                augment=dict(shift=2), conv=dict(channels=16)),
    # Seconds on 2 cores: notebooks' tiny preset and smoke tests.
    "tiny": TrainConfig(dataset="randman", hidden=(32,), readout="spikes", epochs=3,
                        batch_size=32, lr=1e-2, lif=LIFParams(alpha=0.9),
                        data=dict(n_classes=5, n_samples_per_class=100, n_steps=50,
                                  n_units=32)),
}
