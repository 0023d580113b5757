"""The one figure helper of the package: every figure function (:mod:`snnlib.plotting`,
:mod:`snnlib.learning.figures`, :mod:`snnlib.data.figures`, :mod:`snnlib.bench.figures`)
starts from :func:`figure` and returns the Matplotlib ``Figure``; nothing is shown or saved.
Imports nothing of ``snnlib``."""

from __future__ import annotations


def figure(ncols: int = 1, nrows: int = 1, *, width: float = 6.0, height: float = 3.2, **kwargs):
    """A new figure with a grid of panels, each ``width`` x ``height`` inches.

    Args:
        ncols, nrows: the panel grid.
        width, height: size of one panel in inches (the figure is ``ncols * width`` wide).
        kwargs: passed to ``matplotlib.pyplot.subplots`` (``sharex``, ``gridspec_kw``, ...).

    Returns:
        ``(fig, axes)`` with ``axes`` always a 2-D array ``[nrows, ncols]``.
    """
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                        **kwargs)
