"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def need_shared() -> Path:
    if not SHARED.is_dir():
        sys.exit(f"benchmark needs {SHARED} (see ../shared/data/README.md)")
    return SHARED


def best_of(n: int, func: Callable[[], Any]) -> tuple[float, Any]:
    """Best wall time of n runs, and the last result."""
    best, out = float("inf"), None
    for _ in range(n):
        t = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - t)
    return best, out


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def bench(name: str, value: float, unit: str) -> None:
    print(f"BENCH {name} {value:.3g} {unit}")
