"""Interoperability with other spiking-network tools through NIR (the Neuromorphic
Intermediate Representation): :func:`to_nir` / :func:`write_nir` export a trained
:class:`snnlib.layers.SNNClassifier` (or a run), :func:`from_nir` / :func:`read_nir` bring a
graph from snnTorch, Norse, Lava, Rockpool, ... in as one. The mapping of the neuron constants
(``alpha = 1 - dt/tau``, ``gain = r``, ``th1 = v_threshold``) and what NIR cannot express are
in :mod:`snnlib.interop.nir_export`.
"""

from snnlib.runtime import lazy_attributes

_LAZY = {
    "NIRError": "snnlib.interop.nir_export", "to_nir": "snnlib.interop.nir_export",
    "write_nir": "snnlib.interop.nir_export", "DEFAULT_DT": "snnlib.interop.nir_export",
    "from_nir": "snnlib.interop.nir_import", "read_nir": "snnlib.interop.nir_import",
    "assign_weights": "snnlib.interop.nir_import",
}
__getattr__ = lazy_attributes("snnlib.interop", _LAZY)

__all__ = list(_LAZY)
