"""Make the documentation gallery: run the bundled samples, screenshot their maps, copy their charts.

Run by ``make docs`` before ``mkdocs build``::

    .venv/bin/python docs/make_gallery.py            # writes docs/gallery/ (git-ignored)

For each bundled sample and each language (zh, en) it runs ``renewgeo run SAMPLE --set
map.lang=LANG --out TMP/...`` (the installed command beside this interpreter), opens the
meeting map in Debian's headless Chromium at 1280x720 with the network cut off (the
project's own driver, ``tests/browser.py``), waits for the map to say it is ready and saves
a screenshot. Page errors or web requests fail the script. The charts of each run
(``figures/*.png``) are copied once per distinct image. ``docs/gallery/gallery.md`` lists
them all; ``docs/gallery.md`` includes it.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/browser.py: how the project drives headless Chromium

from tests.browser import chromium_path, open_page  # noqa: E402

SAMPLES = {
    "chuangchuangyi": "Chuangchuangyi Science & Innovation Park (illustrative sample): 26 buildings, the pedestrian axis, "
                      "landscape corridor and trails, amenities, walking distances, the targets ledger.",
    "shibei_relocation": "Shibei relocation area (illustrative sample): 60 parcels, planned roads, historic halls and the "
                         "river corridor; net releasable land by year against the 400 mu target.",
}
LANGS = {"zh": "Chinese", "en": "English"}
SCREEN = (1280, 720)
READY = "window.renewgeo && window.renewgeo.ready"


def run_sample(sample: str, lang: str, runs: Path) -> Path:
    """``renewgeo run`` one bundled sample with the map in ``lang``; the output folder."""
    exe = Path(sys.executable).parent / "renewgeo"
    out = runs / f"{sample}-{lang}"
    cmd = [str(exe), "run", str(ROOT / "layers" / sample), "--set", f"map.lang={lang}", "--out", str(out), "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"make_gallery: {' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return out


def screenshot(html: Path, png: Path) -> None:
    """Open ``html`` at projector size, offline, and save what the screen shows."""
    with open_page(html, viewport=SCREEN, wait_js=READY) as run:
        if run.errors or run.console_errors or run.blocked:
            raise SystemExit(f"make_gallery: {html} in Chromium: errors {run.errors + run.console_errors}, "
                             f"web requests {run.blocked}")
        run.page.screenshot(path=str(png))


def main(argv: list[str] | None = None) -> int:
    """Write the gallery's images and ``gallery.md`` into ``--out``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery")
    args = ap.parse_args(argv)
    if chromium_path() is None:
        raise SystemExit("make_gallery: no chromium on PATH (make sysdeps installs Debian's chromium)")
    t0 = time.perf_counter()
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    md = []
    with tempfile.TemporaryDirectory(prefix="renewgeo-gallery-") as tmp:
        jobs = [(s, lang) for s in SAMPLES for lang in LANGS]
        with ThreadPoolExecutor(max_workers=2) as pool:
            folders = dict(zip(jobs, pool.map(lambda j: run_sample(j[0], j[1], Path(tmp)), jobs), strict=True))
        seen: set[str] = set()
        for sample, about in SAMPLES.items():
            md += [f"## {sample}", "", about, ""]
            for lang, lang_name in LANGS.items():
                png = out / f"{sample}-map-{lang}.png"
                screenshot(folders[sample, lang] / "maps" / f"{sample}.html", png)
                md += [f"### Meeting map, {lang_name} (`map.lang = \"{lang}\"`)", "",
                       f"![{sample} meeting map, {lang_name}, 1280x720](gallery/{png.name})", ""]
            figures = sorted(p for lang in LANGS for p in (folders[sample, lang] / "figures").glob("*.png"))
            for fig in figures:
                digest = hashlib.sha256(fig.read_bytes()).hexdigest()
                if digest in seen:
                    continue
                seen.add(digest)
                lang = fig.parents[1].name.rsplit("-", 1)[1]
                name = f"{sample}-{fig.stem}-{lang}.png"
                shutil.copyfile(fig, out / name)
                md += [f"### Chart `figures/{fig.name}` ({LANGS[lang]} run)", "", f"![{sample} {fig.stem}](gallery/{name})", ""]
    (out / "gallery.md").write_text("\n".join(md), encoding="utf-8")
    n = len(list(out.glob("*.png")))
    print(f"make_gallery: {n} images in {out} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
