"""Scenarios: the baseline and two scenarios, compared and written, against one plain run.

Measured in one process on the old-block sample (``layers/shibei_oldblocks``, two
scenarios in its project.toml): ``renewgeo scenarios`` (the baseline and both scenarios
run, the comparison written: tables, difference layers, one map) against ``renewgeo run``
(the baseline run and written). The target of issue 15 is a ratio of at most 2: a
scenario must cost well under a full run, because it reuses what it does not change.
Each side is the best of three, after one warm-up run of each (numba compiles once).
``scenarios_compute_ratio`` compares the computing alone (no files written): the baseline
and the scenarios against one run's analyses.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import bench, best_of

import renewgeo as rg

SAMPLE = Path(__file__).resolve().parents[1] / "layers" / "shibei_oldblocks"


def main() -> None:
    p = rg.load_project(SAMPLE)
    ids = list(p.scenarios)[:2]
    with tempfile.TemporaryDirectory() as d:
        def one_run() -> rg.RunResult:
            return rg.run_project(p, Path(d) / "run", progress=False)

        def scenarios() -> rg.ScenarioRun:
            sr = rg.run_scenarios(p, ids, progress=False)
            rg.write_scenarios(sr, Path(d) / "scenarios")
            return sr

        one_run()
        scenarios()
        t_run, run = best_of(3, one_run)
        t_sc, sr = best_of(3, scenarios)
        t_compute, _ = best_of(3, lambda: rg.run_analyses(p, progress=False))
        t_sc_compute, _ = best_of(3, lambda: rg.run_scenarios(p, ids, progress=False))
    n = len(p["buildings"])
    print(f"renewgeo run on {p.name} ({n} buildings, {len(run.results)} analyses): {t_run:.2f} s")
    print(f"renewgeo scenarios, baseline + {len(ids)} scenarios {ids}: {t_sc:.2f} s; reused: "
          + "; ".join(f"{sid}: {', '.join(r.reused) or 'nothing'}" for sid, r in sr.runs.items()))
    print(f"computing only: one run {t_compute:.2f} s, baseline + {len(ids)} scenarios {t_sc_compute:.2f} s")
    bench("scenarios_cost_ratio", t_sc / t_run, "x")
    bench("scenarios_compute_ratio", t_sc_compute / t_compute, "x")
    bench("scenarios_seconds", t_sc, "s")


if __name__ == "__main__":
    rg.options.progress = False
    main()
