"""The example notebooks run from a clean kernel without errors, and without tqdm's IProgress warning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# what tqdm.auto sees in a Jupyter kernel (ipykernel's shell module loaded), with ipywidgets missing
_FAKE_KERNEL = """
import sys, types, warnings
import IPython  # tqdm asks it for the shell
sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
sys.modules["ipywidgets"] = None  # not installed
warnings.simplefilter("always")
{body}
"""


def _in_fake_kernel(body: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _FAKE_KERNEL.format(body=body)], capture_output=True, text=True, timeout=300)


def test_importing_renewgeo_in_a_kernel_without_ipywidgets_does_not_warn():
    pytest.importorskip("IPython")
    bare = _in_fake_kernel("import tqdm.auto")
    assert "TqdmWarning" in bare.stderr and "IProgress not found" in bare.stderr  # the fake kernel reproduces the warning
    run = _in_fake_kernel("import renewgeo as rg\nfrom renewgeo import pipeline\nprint(pipeline.tqdm.__module__)")
    assert run.returncode == 0, run.stderr
    assert "TqdmWarning" not in run.stderr and run.stdout.strip() == "tqdm.std"


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.ipynb")))
def test_notebook_runs(name, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("text/html" in o.get("data", {}) for o in outputs)  # the project and map render as HTML
    streams = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "TqdmWarning" not in streams and "IProgress not found" not in streams
    figures = [c for c in nb.cells if c.cell_type == "code" and "rg.plot." in c.source]
    assert figures and all(any("image/png" in o.get("data", {}) for o in c.outputs) for c in figures)  # every chart drawn


def test_a_run_shows_in_a_notebook_as_shapes_and_notes_not_whole_tables():
    import renewgeo as rg

    r = rg.run_analyses(rg.load_project(rg.datasets.get_path("shibei_relocation")), ["release", "targets"], progress=False)
    page = r._repr_html_()
    assert "release_by_parcel <small>(60 × 23)</small>" in page and "net_release <small>(60 features)</small>" in page
    assert all(n.replace("'", "&#x27;") in page for n in r.notes) and f"Notes ({len(r.notes)})" in page
    assert "SB101" not in page  # no rows
