"""A raster band in memory (the grids analyses return and ``renewgeo.raster`` writes)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj import CRS

__all__ = ["Grid"]


@dataclass
class Grid:
    """A raster band in memory: values, georeferencing and nodata."""

    values: np.ndarray
    transform: Affine
    crs: CRS
    nodata: float | None = None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the grid's CRS."""
        h, w = self.values.shape
        t = self.transform
        left, top = t.c, t.f
        right, bottom = t.c + t.a * w, t.f + t.e * h
        return (min(left, right), min(bottom, top), max(left, right), max(bottom, top))

    def masked(self) -> np.ma.MaskedArray:
        """Values with nodata (and NaN) masked."""
        v = self.values.astype("float64")
        mask = ~np.isfinite(v)
        if self.nodata is not None and not (isinstance(self.nodata, float) and math.isnan(self.nodata)):
            mask |= self.values == self.nodata
        return np.ma.MaskedArray(v, mask=mask)
