"""A griffe extension for the API reference: Sphinx roles in docstrings become cross-references.

renewgeo's numpydoc docstrings name other objects the Sphinx way (``:func:`write_gpkg```,
``:class:`~renewgeo.styles.Presentation```). mkdocstrings does not read these roles, so
this extension (loaded from mkdocs.yml) rewrites each into an autorefs cross-reference:
a link where the target has a page in the reference, the name in code where it has none
(a private module, another library). Relative names are looked up the way Sphinx does:
in the class, then the module, then the package. A role naming a ``renewgeo`` object that
does not exist is a warning, so ``mkdocs build --strict`` fails on it.
"""

from __future__ import annotations

import html
import logging
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|data|exc|obj|const):`(~?)\.?([^`<>\s]+)`")
log = logging.getLogger("mkdocs.plugins.renewgeo_docs")


def _exists(pkg: griffe.Module, path: str) -> bool:
    if path == pkg.path:
        return True
    if not path.startswith(pkg.path + "."):
        return False
    try:
        pkg[path[len(pkg.path) + 1:]]
    except Exception:  # a KeyError or an alias that cannot be resolved: not ours
        return False
    return True


def _kind(pkg: griffe.Module, path: str) -> str:
    o: Any = pkg if path == pkg.path else pkg[path[len(pkg.path) + 1:]]
    try:
        return str(o.kind.value)
    except Exception:  # an alias that cannot be resolved
        return "alias"


def _resolve(pkg: griffe.Module, obj: griffe.Object | griffe.Alias, name: str) -> str | None:
    scopes = []
    o: Any = obj
    while o is not None:
        scopes.append(o.path)
        o = o.parent
    for scope in [*scopes, ""]:
        path = f"{scope}.{name}" if scope else name
        if _exists(pkg, path):
            return path
    return None


class SphinxRoles(griffe.Extension):
    """Rewrite ``:role:`name``` in every docstring of the package into a cross-reference."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:  # noqa: D102
        self._walk(pkg, pkg)

    def _walk(self, pkg: griffe.Module, obj: griffe.Object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(lambda m: self._ref(pkg, obj, m), obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(pkg, member)  # type: ignore[arg-type]

    def _ref(self, pkg: griffe.Module, obj: griffe.Object, m: re.Match[str]) -> str:
        short, name = m.group(1) == "~", m.group(2).rstrip("()")
        title = f"<code>{html.escape(name.rsplit('.', 1)[-1] if short else name)}</code>"
        target = _resolve(pkg, obj, name)
        if target is None:
            parent = name.rsplit(".", 1)[0]
            if name.startswith(pkg.path + ".") and _exists(pkg, parent) and _kind(pkg, parent) in ("module", "class"):
                log.warning("%s: the docstring names %s, which %s does not hold", obj.path, name, parent)
            target = name
        return f'<autoref identifier="{html.escape(target)}" optional>{title}</autoref>'
