"""Open a GeoPackage in real QGIS (run with Debian's /usr/bin/python3 and python3-qgis).

usage: QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis_check.py GPKG PNG [x,y ...]

Prints one JSON document: for every layer its validity, CRS, feature count, fields,
whether its default style loaded, the renderer and its categories or ranges; then the
colours at the given map coordinates of a render of all layers through QGIS's own map
renderer, written to PNG.
"""

import json
import os
import sys

from qgis.core import (
    QgsApplication,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

gpkg, png = sys.argv[1], sys.argv[2]
points = [tuple(float(v) for v in p.split(",")) for p in sys.argv[3:]]
app = QgsApplication([], False)
app.initQgis()
out = {"qgis": QgsApplication.instance().applicationVersion() if hasattr(QgsApplication, "applicationVersion") else "", "layers": {}}
from osgeo import ogr  # noqa: E402  (GDAL comes with QGIS)

ds = ogr.Open(gpkg)
names = [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())]
ds = None
layers = []
for name in names:
    if name == "layer_styles":
        continue
    lyr = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
    info = {"valid": lyr.isValid()}
    if lyr.isValid():
        msg, ok = lyr.loadDefaultStyle()
        r = lyr.renderer()
        info.update({
            "crs": lyr.crs().authid(), "features": lyr.featureCount(),
            "fields": [[f.name(), f.typeName()] for f in lyr.fields()],
            "style_loaded": bool(ok), "style_message": msg, "renderer": r.type() if r else None,
        })
        if r is not None and r.type() == "categorizedSymbol":
            info["attr"] = r.classAttribute()
            info["categories"] = [[str(c.value()), c.symbol().color().name()] for c in r.categories()]
        if r is not None and r.type() == "graduatedSymbol":
            info["attr"] = r.classAttribute()
            info["ranges"] = [[rg.lowerValue(), rg.upperValue(), rg.symbol().color().name()] for rg in r.ranges()]
        if r is not None and r.type() == "singleSymbol":
            info["colour"] = r.symbol().color().name()
        layers.append(lyr)
    out["layers"][name] = info

order = sorted(layers, key=lambda lyr: {"buildings": 0, "amenities": -1}.get(lyr.name(), 5))
settings = QgsMapSettings()
settings.setLayers(order)
ext = QgsRectangle()
for lyr in layers:
    if lyr.name() in ("buildings", "site", "zones"):
        ext.combineExtentWith(lyr.extent())
if ext.isEmpty():
    for lyr in layers:
        ext.combineExtentWith(lyr.extent())
settings.setExtent(ext)
settings.setOutputSize(QSize(1000, 1000))
settings.setBackgroundColor(QColor(255, 255, 255))
settings.setDestinationCrs(layers[0].crs())
job = QgsMapRendererParallelJob(settings)
job.start()
job.waitForFinished()
img = job.renderedImage()
img.save(png)
vis = settings.visibleExtent()
w, h = img.width(), img.height()
colours = []
for x, y in points:
    px = int((x - vis.xMinimum()) / vis.width() * w)
    py = int((vis.yMaximum() - y) / vis.height() * h)
    colours.append(QColor(img.pixel(px, py)).name() if 0 <= px < w and 0 <= py < h else None)
out["pixels"] = colours
print(json.dumps(out))
sys.stdout.flush()
os._exit(0)  # QGIS 3.22 can crash while tearing down layers at exit; the result is printed
