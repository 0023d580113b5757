"""Learning rules for the LIF network: BPTT (the default, Keras' tape through the whole
sequence), e-prop and DECOLLE (online: forward in time, memory independent of ``T``).

``online_gradients(rule, ...)`` is the one entry point the classifier's ``train_step`` uses
for the online rules.
"""

from __future__ import annotations

from snnlib.learning.compare import bptt_step_gradients, gradient_cosine
from snnlib.learning.decolle import decolle_gradients, random_readouts
from snnlib.learning.eprop import FEEDBACKS, eprop_gradients, random_feedback
from snnlib.learning.losses import STEP_LOGIT_SCALE, step_cross_entropy
from snnlib.learning.memory import format_memory_table, memory_table
from snnlib.learning.online import OnlineResult, record_traces
from snnlib.learning.rules import (ONLINE_RULES, RULES, fixed_matrices, online_gradients,
                                   validate_rule)

__all__ = ["FEEDBACKS", "ONLINE_RULES", "RULES", "STEP_LOGIT_SCALE", "OnlineResult",
           "bptt_step_gradients", "decolle_gradients", "eprop_gradients", "fixed_matrices",
           "format_memory_table", "gradient_cosine", "memory_table", "online_gradients",
           "random_feedback", "random_readouts", "record_traces", "step_cross_entropy",
           "validate_rule"]
