"""Which learning rule runs, and the one dispatch to the online rules (e-prop, DECOLLE)."""

from __future__ import annotations

from snnlib.learning.decolle import decolle_gradients, random_readouts
from snnlib.learning.eprop import FEEDBACKS, eprop_gradients, random_feedback
from snnlib.learning.losses import STEP_LOGIT_SCALE

RULES = ("bptt", "eprop", "decolle")
ONLINE_RULES = ("eprop", "decolle")


def validate_rule(rule: str, feedback: str = "symmetric", *, impl: str = "dense",
                  readout: str = "spikes") -> None:
    """Check a learning rule and its options; ``ValueError`` naming the argument if invalid.

    ``rule`` is one of :data:`RULES`; ``feedback`` one of ``("symmetric", "random")``; the
    online rules need ``impl="dense"`` and ``readout="spikes"``. The one check the classifier,
    the training config and the command line share.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}; got {rule!r}")
    if feedback not in FEEDBACKS:
        raise ValueError(f"feedback must be one of {FEEDBACKS}; got {feedback!r}")
    if rule != "bptt" and (impl != "dense" or readout != "spikes"):
        raise ValueError(f"rule={rule!r} needs impl='dense' and readout='spikes'; got "
                         f"impl={impl!r}, readout={readout!r}")


def online_gradients(rule: str, weights, inputs, labels, params, *, fixed=None,
                     feedback: str = "symmetric", logit_scale: float = STEP_LOGIT_SCALE,
                     time_major: bool = False):
    """Dispatch to :func:`eprop.eprop_gradients` or :func:`decolle.decolle_gradients`.

    Args:
        rule: ``"eprop"`` or ``"decolle"``.
        weights: list of ``(N_l, M_l)`` matrices.
        inputs: float ``[batch, time, n_0]`` (``[time, batch, n_0]`` if ``time_major``).
        labels: int ``[batch]``.
        params: :class:`snnlib.functional.LIFParams`.
        fixed: the rule's fixed random matrices (e-prop random feedback or DECOLLE readouts).
        feedback: e-prop's ``"symmetric"`` or ``"random"``.

    Returns:
        :class:`snnlib.learning.online.OnlineResult`.
    """
    if rule == "eprop":
        return eprop_gradients(weights, inputs, labels, params, feedback=feedback,
                               feedback_weights=fixed, logit_scale=logit_scale,
                               time_major=time_major)
    if rule == "decolle":
        return decolle_gradients(weights, inputs, labels, params, readouts=fixed,
                                 logit_scale=logit_scale, time_major=time_major)
    raise ValueError(f"rule must be one of {ONLINE_RULES} for online gradients; got {rule!r}")


def fixed_matrices(rule: str, sizes, *, feedback: str = "symmetric", seed: int = 0,
                   dtype="float32") -> list:
    """The fixed random matrices a rule needs for a LIF stack ``sizes`` (may be empty)."""
    if rule == "eprop" and feedback == "random":
        return random_feedback(sizes, seed=seed, dtype=dtype)
    if rule == "decolle":
        return random_readouts(sizes, seed=seed, dtype=dtype)
    return []
