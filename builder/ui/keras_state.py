"""Keep Keras's global state across Streamlit script runs.

After every script run, fragment runs included, Streamlit calls
``keras.backend.clear_session()`` (streamlit/runtime/scriptrunner/script_runner.py,
``_clean_problem_modules``). In this app that is wrong twice over:
- it is slow: a full garbage collection at each redraw of the Train page's live panel
  (py-spy: 24 % of the server's samples during a watched run; Streamlit's own collection
  after each run, which was more, is turned off in .streamlit/config.toml);
- it resets Keras's global state (name counters, TensorFlow's default graph) under
  other threads: another session's run, or this session's stopped run, may be tracing
  a saliency function or building a model at that moment.
No page relies on a cleared session: every model here is built whole from a design,
with explicit layer names. Streamlit's other cleanup (closing Matplotlib figures) is kept.
"""

from __future__ import annotations

import sys
import threading

_LOCK = threading.Lock()


def _close_matplotlib_figures() -> None:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        try:
            plt.close("all")
        except Exception:  # noqa: BLE001 - Streamlit ignores its failure as well
            pass


_close_matplotlib_figures.keeps_keras = True


def keep_keras_state_between_runs() -> None:
    """Replace Streamlit's after-run cleanup by one that leaves Keras alone (once)."""
    from streamlit.runtime.scriptrunner import script_runner

    with _LOCK:
        current = getattr(script_runner, "_clean_problem_modules", None)
        if current is None:
            raise RuntimeError(
                "Streamlit no longer has script_runner._clean_problem_modules; check whether "
                "it still clears Keras's session after each run (builder/ui/keras_state.py).")
        if not getattr(current, "keeps_keras", False):
            _close_matplotlib_figures.replaced = current  # Streamlit's own, for the tests
            script_runner._clean_problem_modules = _close_matplotlib_figures
