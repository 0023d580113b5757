"""Learning rules for the LIF network: BPTT (the default, Keras' tape through the whole
sequence), e-prop and DECOLLE (online: forward in time, memory independent of ``T``).

``online_gradients(rule, ...)`` is the one entry point the classifier's ``train_step`` uses
for the online rules.
"""

from __future__ import annotations

from snnlib.learning.losses import STEP_LOGIT_SCALE

RULES = ("bptt", "eprop", "decolle")
ONLINE_RULES = ("eprop", "decolle")


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
        from snnlib.learning.eprop import eprop_gradients

        return eprop_gradients(weights, inputs, labels, params, feedback=feedback,
                               feedback_weights=fixed, logit_scale=logit_scale,
                               time_major=time_major)
    if rule == "decolle":
        from snnlib.learning.decolle import decolle_gradients

        return decolle_gradients(weights, inputs, labels, params, readouts=fixed,
                                 logit_scale=logit_scale, time_major=time_major)
    raise ValueError(f"rule must be one of {ONLINE_RULES} for online gradients; got {rule!r}")


def fixed_matrices(rule: str, sizes, *, feedback: str = "symmetric", seed: int = 0,
                   dtype="float32") -> list:
    """The fixed random matrices a rule needs for a LIF stack ``sizes`` (may be empty)."""
    if rule == "eprop" and feedback == "random":
        from snnlib.learning.eprop import random_feedback

        return random_feedback(sizes, seed=seed, dtype=dtype)
    if rule == "decolle":
        from snnlib.learning.decolle import random_readouts

        return random_readouts(sizes, seed=seed, dtype=dtype)
    return []


__all__ = ["ONLINE_RULES", "RULES", "STEP_LOGIT_SCALE", "fixed_matrices", "online_gradients"]
