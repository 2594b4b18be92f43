"""District and city scale on dask.distributed (issue 16): whole runs in one process and on 2 workers.

The district is the synthetic 28.6 km2 district of ``make_district.py`` (about 30,000
buildings, 3,200 amenities, 1,100 parcels, 12 village communities, a DEM). It is run
whole (``renewgeo run``: every analysis, then results.gpkg, tables, rasters, figures and
the map) twice in this process: once in-process, once with ``workers=2`` (a
``distributed.LocalCluster`` of two worker processes, started inside the timing). The two
runs' results are compared (:func:`renewgeo.compute.differences`: distances to 1e-9 m,
areas to 1e-9 relative, same ids and text).

``--city`` also makes the 1,000,000-building city of the same pattern and runs its walking
analysis (and the area analysis it needs) on a 2-worker LocalCluster, with the peak memory
of each worker process; the whole run of a city does not fit the budget (see the printed
note).

Prints ``BENCH district_run_seconds`` (2 workers), ``BENCH district_run_single_seconds``,
``BENCH scale_speedup_2_workers``, ``BENCH partitioned_equals_single 1`` (only when every
result compared equal) and, with ``--city``, ``BENCH city_1m_walk_seconds`` and
``BENCH city_1m_peak_worker_rss_gb``. Before them, the time of each analysis and of the
writing in both runs.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import bench

import renewgeo as rg
from renewgeo import compute, pipeline
from renewgeo.analysis import Analysis, RunResult

sys.path.insert(0, str(Path(__file__).parent))
import make_district

STEPS: dict[str, float] = {}


def _timed_steps() -> None:
    """Record the time of each analysis and of the writing (for the breakdown printed before the BENCH lines)."""
    run_one, write_into = pipeline._run_one, pipeline._write_into

    @functools.wraps(run_one)
    def one(a: Analysis, run: RunResult, *args: Any, **kwargs: Any) -> None:
        t = time.perf_counter()
        run_one(a, run, *args, **kwargs)
        STEPS[a.name] = time.perf_counter() - t

    @functools.wraps(write_into)
    def write(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        out = write_into(*args, **kwargs)
        STEPS["(writing)"] = time.perf_counter() - t
        return out

    pipeline._run_one = one  # type: ignore[assignment]
    pipeline._write_into = write


def _run(project_dir: Path, out: Path, **engine: Any) -> tuple[float, RunResult, dict[str, float]]:
    STEPS.clear()
    t = time.perf_counter()
    project = rg.load_project(project_dir)
    run = rg.run_project(project, out, progress=False, **engine)
    return time.perf_counter() - t, run, dict(STEPS)


def _district(work: Path, district: Path | None) -> None:
    if district is None:
        district = work / "district"
        t = time.perf_counter()
        counts = make_district.make(district)
        print(f"district made in {time.perf_counter() - t:.1f} s: {counts}")
    single_s, single, steps1 = _run(district, work / "out_single")
    dist_s, dist, steps2 = _run(district, work / "out_2w", workers=2)
    print(f"{'step':<12} {'1 process':>10} {'2 workers':>10}")
    for k in steps1:
        print(f"{k:<12} {steps1[k]:>9.1f}s {steps2.get(k, float('nan')):>9.1f}s")
    diffs = compute.differences(single, dist)
    for d in diffs[:20]:
        print(f"DIFFERENT: {d}")
    bench("district_run_seconds", dist_s, "s")
    bench("district_run_single_seconds", single_s, "s")
    bench("scale_speedup_2_workers", single_s / dist_s, "x")
    if not diffs:
        print("BENCH partitioned_equals_single 1")


def _worker_rss(client: Any, peak: dict[str, float], stop: threading.Event) -> None:
    import psutil

    def rss() -> int:
        return psutil.Process().memory_info().rss

    while not stop.is_set():
        try:
            for w, v in client.run(rss).items():
                peak[w] = max(peak.get(w, 0.0), v / 1024**3)
        except Exception:  # the cluster is closing
            return
        stop.wait(0.5)


def _city(work: Path, city: Path | None) -> None:
    if city is None:
        city = work / "city"
        t = time.perf_counter()
        counts = make_district.make(city, buildings=1_000_000)
        print(f"city made in {time.perf_counter() - t:.1f} s: {counts}")
    project = rg.load_project(city)
    eng = compute.start_local(2)
    peak: dict[str, float] = {}
    stop = threading.Event()
    watch = threading.Thread(target=_worker_rss, args=(eng.client, peak, stop), daemon=True)
    watch.start()
    try:
        t = time.perf_counter()
        rg.run_analyses(project, ["walk"], progress=False, engine=eng)
        seconds = time.perf_counter() - t
    finally:
        stop.set()
        watch.join()
        eng.close()
    print("city: the walking analysis (with area, which it needs) on a 2-worker LocalCluster; the whole run is not measured "
          "(the scorecard's per-site scopes and the map do not scale to 1M buildings yet)")
    bench("city_1m_walk_seconds", seconds, "s")
    bench("city_1m_peak_worker_rss_gb", max(peak.values(), default=float("nan")), "GB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--district", type=Path, help="an existing district folder (default: made by make_district.py in a temp folder)")
    ap.add_argument("--city", action="store_true", help="also the 1,000,000-building city (minutes)")
    ap.add_argument("--city-dir", type=Path, help="an existing city folder (make_district.py DIR --buildings 1000000)")
    a = ap.parse_args()
    _timed_steps()
    rg.options.progress = False
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _district(work, a.district)
        if a.city or a.city_dir:
            _city(work, a.city_dir)


if __name__ == "__main__":
    main()
