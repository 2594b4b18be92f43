"""Open a GeoPackage in real QGIS (run with Debian's /usr/bin/python3 and python3-qgis).

usage: QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis_check.py GPKG PNG [--order A,B,..] [--probe LAYER] [x,y ...]

Prints one JSON document: for every layer its validity, CRS, feature count, fields,
whether its default style loaded, the renderer and its categories or ranges, and every
style QGIS finds for it in the GeoPackage (``listStylesInDatabase``), each loaded from the
database into the layer's style manager (``QgsMapLayerStyleManager``) with its renderer;
then the colours at the given map coordinates, and a render of all layers through
QGIS's own map renderer, written to PNG. ``--order`` lists the layers top first (the
others go below, points above lines above polygons); ``--probe`` samples the colours
from a render of that layer alone on white.
"""

import argparse
import json
import os
import sys

from qgis.core import (
    QgsApplication,
    QgsMapLayerStyle,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtXml import QDomDocument

ap = argparse.ArgumentParser()
ap.add_argument("gpkg")
ap.add_argument("png")
ap.add_argument("points", nargs="*")
ap.add_argument("--order", default="")
ap.add_argument("--probe", default="")
args = ap.parse_intermixed_args()
gpkg, png = args.gpkg, args.png
points = [tuple(float(v) for v in p.split(",")) for p in args.points]
app = QgsApplication([], False)
app.initQgis()
out = {"qgis": app.applicationVersion() if hasattr(app, "applicationVersion") else "", "layers": {}}
from osgeo import ogr  # noqa: E402  (GDAL comes with QGIS)

ds = ogr.Open(gpkg)
names = [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())]
ds = None


def describe(r):
    """The renderer: its type, and its categories, ranges or colour."""
    info = {"renderer": r.type() if r else None}
    if r is not None and r.type() == "categorizedSymbol":
        info["attr"] = r.classAttribute()
        info["categories"] = [[str(c.value()), c.symbol().color().name(), c.label()] for c in r.categories()]
    if r is not None and r.type() == "graduatedSymbol":
        info["attr"] = r.classAttribute()
        info["ranges"] = [[g.lowerValue(), g.upperValue(), g.symbol().color().name(), g.label()] for g in r.ranges()]
    if r is not None and r.type() == "singleSymbol":
        info["colour"] = r.symbol().color().name()
        info["symbol"] = {k: str(v) for k, v in r.symbol().symbolLayer(0).properties().items()}
    return info


def styles_in_database(lyr, source):
    """Every style of the layer in layer_styles, loaded into its style manager as QGIS's style menu does."""
    count, ids, snames, descriptions, err = lyr.listStylesInDatabase()
    found = []
    manager = lyr.styleManager()
    current = manager.currentStyle()
    for sid, sname, desc in list(zip(ids, snames, descriptions, strict=True))[:count]:
        qml, msg = lyr.getStyleFromDatabase(sid)
        probe = QgsVectorLayer(source, sname, "ogr")
        doc = QDomDocument()
        parsed = doc.setContent(qml)
        ok, imsg = probe.importNamedStyle(doc) if parsed else (False, "not XML")
        style = QgsMapLayerStyle()
        style.readFromLayer(probe)
        added = manager.addStyle(sname, style) if sname not in manager.styles() else True
        found.append({"name": sname, "description": desc, "loaded": bool(ok) and added, "message": imsg or msg,
                      "labels": probe.labelsEnabled(), **describe(probe.renderer())})
    manager.setCurrentStyle(current)
    return found, manager.styles(), err


layers = []
for name in names:
    if name == "layer_styles":
        continue
    source = f"{gpkg}|layername={name}"
    lyr = QgsVectorLayer(source, name, "ogr")
    info = {"valid": lyr.isValid()}
    if lyr.isValid():
        msg, ok = lyr.loadDefaultStyle()
        info.update({
            "crs": lyr.crs().authid(), "features": lyr.featureCount(),
            "fields": [[f.name(), f.typeName()] for f in lyr.fields()],
            "style_loaded": bool(ok), "style_message": msg, "labels": lyr.labelsEnabled(), **describe(lyr.renderer()),
        })
        info["styles"], info["style_manager"], info["styles_error"] = styles_in_database(lyr, source)
        layers.append(lyr)
    out["layers"][name] = info

top = [n for n in args.order.split(",") if n]
geom_rank = {0: 0, 1: 1, 2: 2}  # point, line, polygon (QgsWkbTypes.GeometryType)
order = sorted(layers, key=lambda lyr: (top.index(lyr.name()) if lyr.name() in top else len(top), geom_rank.get(int(lyr.geometryType()), 3)))


def render(to_draw, path=None, labels=True):
    settings = QgsMapSettings()
    settings.setFlag(QgsMapSettings.DrawLabeling, labels)  # the probe samples fills, not labels
    settings.setLayers(to_draw)
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
    if path:
        img.save(path)
    return img, settings.visibleExtent()


render(order, png)
probe = [lyr for lyr in layers if lyr.name() == args.probe]
img, vis = render(probe or order, labels=False)
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
