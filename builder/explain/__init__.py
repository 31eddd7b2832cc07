"""Explore a trained model: predictions and metrics, saliency, activations, the learning cycle.

The modules, each usable on its own and none importing Streamlit:

- :mod:`~builder.explain.metrics`: classification and regression scores in NumPy
  (matching scikit-learn's definitions);
- :mod:`~builder.explain.predictions`: a model's predictions on prepared data,
  their scores, and predictions for new raw inputs;
- :mod:`~builder.explain.saliency`: vanilla gradients, SmoothGrad, Integrated
  Gradients and Grad-CAM, batched, plus the sanity checks;
- :mod:`~builder.explain.activations`: every layer's output for one sample;
- :mod:`~builder.explain.figures`: Plotly figures for all of the above, and for the
  learning cycle that training records (:mod:`builder.learning_cycle`).

Submodules are imported on use, so importing this package stays cheap.
"""

from __future__ import annotations

__all__ = ["activations", "figures", "metrics", "predictions", "saliency"]
