"""Draw every layer of a GeoPackage with its default style in real QGIS (Debian /usr/bin/python3 and python3-qgis).

usage: QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis_render.py GPKG [--png PNG] [--size 1280x720] [--order A,B,..] [--scale N]

Prints one JSON document with, for every layer: whether its default style (from
``layer_styles``) loaded, its feature count and how many have a geometry, the pixels QGIS's
map renderer (``QgsMapRendererCustomPainterJob``) paints when it draws the layer alone over
its own extent on white (labels off), the colour of the symbol the renderer gives each
feature by fid (None: the feature is not drawn) and, for a labelled layer, each feature's
label text as QGIS evaluates it. With ``--png``, all layers drawn together (``--order``
top first, the others below, points above lines above polygons), labels on, at ``--size``,
over the extent of every layer or, with ``--scale N``, at 1:N around its centre; ``_png``
then says the scale QGIS drew at and how many labels it placed for each layer.
"""

import argparse
import json
import os
import sys

import numpy as np
from osgeo import ogr
from qgis.core import (
    QgsApplication,
    QgsExpression,
    QgsExpressionContext,
    QgsExpressionContextUtils,
    QgsMapRendererCustomPainterJob,
    QgsMapSettings,
    QgsRectangle,
    QgsRenderContext,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor, QImage, QPainter

WHITE = QColor(255, 255, 255)


def draw(layers, extent, size, labels, results=None):
    """The layers drawn by QGIS's map renderer into an image of ``size`` on white (``results``: a dict given the scale and labels)."""
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[0].crs())
    settings.setOutputSize(size)
    settings.setExtent(extent)
    settings.setBackgroundColor(WHITE)
    settings.setFlag(QgsMapSettings.DrawLabeling, labels)
    settings.setFlag(QgsMapSettings.Antialiasing, True)
    img = QImage(size, QImage.Format_ARGB32)
    img.fill(WHITE)
    painter = QPainter(img)
    job = QgsMapRendererCustomPainterJob(settings, painter)
    job.start()
    job.waitForFinished()
    painter.end()
    if results is not None:
        placed = job.takeLabelingResults()
        names = {lyr.id(): lyr.name() for lyr in layers}
        results["scale"] = settings.scale()
        results["labels"] = {}
        for pos in (placed.allLabels() if placed is not None else []):
            name = names.get(pos.layerID, pos.layerID)
            results["labels"][name] = results["labels"].get(name, 0) + 1
    return img


def painted(img):
    """How many pixels are not the white background."""
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    px = np.frombuffer(ptr, dtype=np.uint32)
    return int((px != np.uint32(0xFFFFFFFF)).sum())


def around(lyr):
    """The layer's extent, grown a little (a single point has none)."""
    ext = QgsRectangle(lyr.extent())
    pad = max(ext.width(), ext.height(), 20.0) * 0.05
    return QgsRectangle(ext.xMinimum() - pad, ext.yMinimum() - pad, ext.xMaximum() + pad, ext.yMaximum() + pad)


def symbols_and_labels(lyr):
    """The symbol colour the renderer gives each feature (by fid) and each feature's label text."""
    ctx = QgsRenderContext()
    ectx = QgsExpressionContext(QgsExpressionContextUtils.globalProjectLayerScopes(lyr))
    ctx.setExpressionContext(ectx)
    renderer = lyr.renderer().clone()
    renderer.startRender(ctx, lyr.fields())
    label = None
    if lyr.labelsEnabled():
        s = lyr.labeling().settings()
        label = QgsExpression(s.fieldName if s.isExpression else QgsExpression.quotedColumnRef(s.fieldName))
        label.prepare(ectx)
    colours, texts, with_geometry = {}, {}, 0
    for f in lyr.getFeatures():
        ctx.expressionContext().setFeature(f)
        ectx.setFeature(f)
        sym = renderer.symbolForFeature(f, ctx)
        colours[f.id()] = sym.color().name() if sym is not None else None
        with_geometry += int(f.hasGeometry() and not f.geometry().isEmpty())
        if label is not None:
            v = label.evaluate(ectx)
            texts[f.id()] = None if v is None or (hasattr(v, "isNull") and v.isNull()) else str(v)
    renderer.stopRender(ctx)
    return colours, texts if label is not None else None, with_geometry


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gpkg")
    ap.add_argument("--png", default="")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--order", default="")
    ap.add_argument("--scale", type=float, default=0.0)
    args = ap.parse_args()
    app = QgsApplication([], False)
    app.initQgis()
    ds = ogr.Open(args.gpkg)
    names = [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())]
    ds = None
    out, layers = {}, []
    for name in names:
        if name == "layer_styles":
            continue
        lyr = QgsVectorLayer(f"{args.gpkg}|layername={name}", name, "ogr")
        if not lyr.isValid():
            out[name] = {"valid": False}
            continue
        msg, ok = lyr.loadDefaultStyle()
        colours, labels, with_geometry = symbols_and_labels(lyr)
        drawn = painted(draw([lyr], around(lyr), QSize(400, 400), False)) if with_geometry else 0
        out[name] = {"valid": True, "style_loaded": bool(ok), "style_message": msg, "renderer": lyr.renderer().type(),
                     "features": lyr.featureCount(), "with_geometry": with_geometry, "painted_px": drawn,
                     "symbols": {str(k): v for k, v in colours.items()}, "labels": None if labels is None else
                     {str(k): v for k, v in labels.items()}}
        layers.append(lyr)
    if args.png and layers:
        top = [n for n in args.order.split(",") if n]
        order = sorted(layers, key=lambda lyr: (top.index(lyr.name()) if lyr.name() in top else len(top), int(lyr.geometryType())))
        ext = QgsRectangle()
        for lyr in layers:
            ext.combineExtentWith(lyr.extent())
        w, h = (int(v) for v in args.size.split("x"))
        view = ext.buffered(max(ext.width(), ext.height()) * 0.03)
        if args.scale:  # 1:N around the centre, as QGIS's own scale calculator counts it
            c, probe = ext.center(), QgsMapSettings()
            probe.setDestinationCrs(order[0].crs())
            probe.setOutputSize(QSize(w, h))
            probe.setExtent(QgsRectangle(c.x() - w / 2, c.y() - h / 2, c.x() + w / 2, c.y() + h / 2))
            k = args.scale / probe.scale()  # the scale grows with the extent's width
            view = QgsRectangle(c.x() - k * w / 2, c.y() - k * h / 2, c.x() + k * w / 2, c.y() + k * h / 2)
        results = {}
        img = draw(order, view, QSize(w, h), True, results)
        img.save(args.png)
        out["_png"] = {"path": args.png, "painted_px": painted(img), "width": img.width(), "height": img.height(), **results}
    print(json.dumps(out))
    sys.stdout.flush()
    os._exit(0)  # QGIS 3.22 can crash while tearing down layers at exit; the result is printed


if __name__ == "__main__":
    main()
