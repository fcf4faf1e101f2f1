"""Every figure reglab draws is saved here: a `.png` to look at and an `.svg` beside it for a
paper (text kept as text, so a journal's fonts apply), both written atomically."""

import io
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt

from reglab.outputs.atomic import write_bytes
from reglab.outputs.figure_names import vector_path

DPI = 110
PAD_INCHES = 0.1  # around the tight bounding box, as matplotlib's bbox_inches="tight"
# Text as <text> (editable, small); no date or random ids: the same figure, the same bytes.
SVG_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "reglab"}


def save_figure(fig, path: str | Path, laid_out: bool = False) -> Path:
    """Writes `path` (.png) and its `.svg` twin, closes the figure; returns `path`.
    `laid_out`: the caller placed the axes and left room for every label (no tight_layout,
    no tight bounding box: each costs a drawing of the figure)."""
    path = Path(path)
    fig.set_label(path.stem)  # names the figure for whoever inspects it before it closes
    fig.set_dpi(DPI)  # text is measured at the resolution it is drawn: a legend fits
    with warnings.catch_warnings():  # a long legend can defeat tight_layout; bbox saves it
        warnings.filterwarnings("ignore", message="Tight layout not applied")
        if fig.get_layout_engine() is not None:
            fig.draw_without_rendering()  # the engine lays it out (Optuna's figures have one)
        elif not laid_out:
            fig.tight_layout()
    png, svg = io.BytesIO(), io.BytesIO()
    # the figure's tight bounding box (a legend outside the axes stays on the page), measured
    # once for both formats: "tight" would lay the figure out again for each
    bbox = None if laid_out else fig.get_tightbbox().padded(PAD_INCHES)
    fig.savefig(png, format="png", dpi=DPI, bbox_inches=bbox)
    with plt.rc_context(SVG_STYLE):
        fig.savefig(svg, format="svg", bbox_inches=bbox, metadata={"Date": None})
    plt.close(fig)
    write_bytes(path, png.getvalue())
    write_bytes(vector_path(path), svg.getvalue())
    return path
