"""Typed settings: one section per analysis, each setting with one type, default, unit and check.

A project's ``project.toml`` holds one table per analysis (``[area]``, ``[walk]``,
``[release]``, ``[raster]``, ``[map]``). Each table is a :class:`Section`: a frozen
dataclass whose fields are the settings, declared with :func:`setting` (type from the
annotation, default, unit in the name, bounds or choices, and the ``[thresholds]`` key
it replaces). Loading checks every table at once and reports every problem the way
layer validation does: unknown keys with the closest valid name, wrong types (a text
where a number belongs, ``"false"`` in quotes), values out of range.

Analysis modules declare their own section and register it with :func:`section`; the
project loader only knows the registry, so adding an analysis never touches the loader.
The same checks serve the other typed tables of ``project.toml`` (targets, rasters,
life circles) through :func:`parse_record`.

>>> from renewgeo.settings import Settings
>>> s = Settings.defaults()
>>> s.walk.speed_m_s, s.area.floor_height_m
(1.0, 3.0)
>>> s2 = s.override({"walk.speed_m_s": 1.2})
>>> s2.walk.speed_m_s, s.walk.speed_m_s
(1.2, 1.0)
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, get_args, get_origin

import pandas as pd

from renewgeo._errors import ProjectFileError
from renewgeo._validate import Problem, closest

__all__ = [
    "SECTIONS",
    "FileProblem",
    "Section",
    "Settings",
    "describe",
    "parse_record",
    "section",
    "setting",
]

S = TypeVar("S", bound="Section")
R = TypeVar("R")

_META = "renewgeo"


@dataclass(frozen=True)
class FileProblem:
    """A problem of a file a settings section names: an error, or a ``warning`` (a file outside the project)."""

    message: str
    fix: str
    severity: Literal["error", "warning"] = "error"
    code: str = "bad_setting_file"


@dataclass(frozen=True)
class _Spec:
    """What :func:`setting` records about one field."""

    doc: str
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    choices: tuple[str, ...] | None = None
    legacy: str | None = None
    example: str | None = None
    min_items: int = 0
    aliases: tuple[tuple[str, str], ...] = ()


def setting(
    default: Any = dataclasses.MISSING,
    doc: str = "",
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    choices: Iterable[str] | None = None,
    legacy: str | None = None,
    example: str | None = None,
    min_items: int = 0,
    aliases: Mapping[str, str] | None = None,
) -> Any:
    """Declare one typed setting (a dataclass field with its checks).

    Parameters
    ----------
    default : object
        The default; lists are given as tuples, tables as dicts (copied per instance).
        Leave it out for a required field (targets, rasters).
    doc : str
        What the setting means, for ``describe()`` and the docs.
    ge, gt, le : float, optional
        Bounds for numbers (and for every number in a list or table).
    choices : iterable of str, optional
        The allowed values of a text (or of every text in a list).
    legacy : str, optional
        The ``[thresholds]`` key this setting replaces (read with a FutureWarning).
    example : str, optional
        A TOML example value for error messages (``"100"``, ``'["road", "river"]'``).
    min_items : int
        The fewest items a list may hold.
    aliases : mapping, optional
        Words people write for an allowed value (``{"公里": "km"}``): suggested in the fix,
        never accepted silently.
    """
    spec = _Spec(doc, ge, gt, le, tuple(choices) if choices is not None else None, legacy, example, min_items,
                 tuple((aliases or {}).items()))
    meta = {_META: spec}
    if isinstance(default, dict):
        frozen = dict(default)
        return field(default_factory=lambda: dict(frozen), metadata=meta)
    return field(default=default, metadata=meta)


# ---------------------------------------------------------------------------- checking
class _BadValueError(Exception):
    """A value that does not fit its declared type; the message says what it got."""

    def __init__(self, message: str, code: str = "bad_setting") -> None:
        super().__init__(message)
        self.code = code


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return f"{value!r}"


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _check_bounds(v: float, spec: _Spec) -> None:
    if v != v:  # NaN
        raise _BadValueError("must be a number, got nan", "setting_out_of_range")
    for bound, ok, word in ((spec.ge, lambda b: v >= b, ">="), (spec.gt, lambda b: v > b, ">"), (spec.le, lambda b: v <= b, "<=")):
        if bound is not None and not ok(bound):
            raise _BadValueError(f"must be {word} {bound:g}, got {v:g}", "setting_out_of_range")


def _scalar(tp: Any, value: Any, spec: _Spec) -> Any:
    """``value`` converted to the scalar type ``tp`` (strictly: TOML's own types only)."""
    if tp is bool:
        if not isinstance(value, bool):
            raise _BadValueError(f"must be true or false (without quotes), got {_describe(value)}")
        return value
    if tp is int:
        if not (_is_number(value) and float(value).is_integer()):
            raise _BadValueError(f"must be a whole number, got {_describe(value)}")
        _check_bounds(float(value), spec)
        return int(value)
    if tp is float:
        if not _is_number(value):
            raise _BadValueError(f"must be a number, got {_describe(value)}")
        _check_bounds(float(value), spec)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _BadValueError(f"must be a text in quotes, got {_describe(value)}")
        if spec.choices is not None and value not in spec.choices:
            s = closest(value, spec.choices)
            raise _BadValueError(f"must be one of {list(spec.choices)}, got {value!r}" + (f" (did you mean {s!r}?)" if s else ""),
                       "setting_out_of_range")
        return value
    if tp is Any:
        return value
    raise TypeError(f"renewgeo.settings: unsupported setting type {tp!r}")  # a programming error, not a user's


def _literal(tp: Any, value: Any, spec: _Spec) -> Any:
    allowed = get_args(tp)
    return _scalar(str, value, dataclasses.replace(spec, choices=tuple(str(a) for a in allowed)))


def convert(tp: Any, value: Any, spec: _Spec) -> Any:
    """``value`` checked and converted to the annotated type ``tp``; raises ``_BadValueError``."""
    origin = get_origin(tp)
    if origin is Literal:
        return _literal(tp, value, spec)
    if origin in (types.UnionType, typing.Union):
        return _union(tp, value, spec)
    if origin is tuple:
        return _sequence(tp, value, spec)
    if origin in (dict, Mapping):
        return _table(tp, value, spec)
    return _scalar(tp, value, spec)


_UNSET = ("none", "unset", "")


def _union(tp: Any, value: Any, spec: _Spec) -> Any:
    members = [a for a in get_args(tp) if a is not type(None)]
    optional = len(members) < len(get_args(tp))
    if optional and (value is None or (isinstance(value, str) and value.strip().lower() in _UNSET)):
        return None
    errors = []
    for m in members:
        try:
            return convert(m, value, spec)
        except _BadValueError as exc:
            errors.append(exc)
    range_errors = [e for e in errors if e.code == "setting_out_of_range"]
    if range_errors:
        raise range_errors[0]
    raise _BadValueError("must be " + " or ".join(str(e).removeprefix("must be ").split(", got ")[0] for e in errors) + f", got {_describe(value)}")


def _sequence(tp: Any, value: Any, spec: _Spec) -> tuple[Any, ...]:
    args = get_args(tp)
    if not isinstance(value, list | tuple):
        raise _BadValueError(f"must be a list such as {spec.example or '[1, 2]'}, got {_describe(value)}")
    if len(value) < spec.min_items:
        raise _BadValueError(f"must hold at least {spec.min_items} item(s), got {len(value)}", "setting_out_of_range")
    item = args[0]
    out = []
    for i, v in enumerate(value):
        try:
            out.append(convert(item, v, spec))
        except _BadValueError as exc:
            raise _BadValueError(f"item {i + 1} ({v!r}) {exc}", exc.code) from None
    return tuple(out)


def _table(tp: Any, value: Any, spec: _Spec) -> dict[str, Any]:
    args = get_args(tp)
    if not isinstance(value, Mapping):
        raise _BadValueError(f"must be a table such as {spec.example or '{ a = 1 }'}, got {_describe(value)}")
    item = args[1] if len(args) == 2 else Any
    out = {}
    for k, v in value.items():
        try:
            out[str(k)] = convert(item, v, spec)
        except _BadValueError as exc:
            raise _BadValueError(f"entry {k!r} {exc}", exc.code) from None
    return out


# ------------------------------------------------------------------------------ records
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _spec_of(f: dataclasses.Field[Any]) -> _Spec:
    spec = f.metadata.get(_META)
    return spec if isinstance(spec, _Spec) else _Spec(doc="")


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_YES = {"yes", "y", "true", "t", "1", "on", "是", "对"}
_NO = {"no", "n", "false", "f", "0", "off", "否", "不"}


def _suggestion(tp: Any, value: Any, spec: _Spec) -> str | None:
    """What the user probably meant, from what they wrote (a TOML value), or None."""
    base = _base_type(tp)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if base in (int, float) and (m := _NUMBER.search(text)):
        return m.group(0).lstrip("+")
    if base is bool and text.lower() in _YES | _NO:
        return "true" if text.lower() in _YES else "false"
    alias = dict(spec.aliases).get(text)
    if alias:
        return toml_value(alias)
    if base is str and spec.choices and (near := closest(text, spec.choices)):  # the allowed text meant, not an example
        return toml_value(near)
    if base is tuple and ("," in text or "，" in text):
        return toml_value([_number_or_text(x) for x in re.split(r"[,，]", text) if x.strip()])
    if base is dict and "=" in text:
        pairs = [p.split("=", 1) for p in re.split(r"[;,，；]", text) if "=" in p]
        return toml_value({k.strip(): _number_or_text(v) for k, v in pairs})
    return None


def _number_or_text(text: str) -> Any:
    t = text.strip().strip("'\"")
    try:
        return int(t) if t.lstrip("-").isdigit() else float(t)
    except ValueError:
        return t


def _base_type(tp: Any) -> Any:
    origin = get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        members = [a for a in get_args(tp) if a is not type(None)]
        return _base_type(members[0]) if len(members) == 1 else None
    return {tuple: tuple, dict: dict, Mapping: dict}.get(origin, tp)


def _example(f: dataclasses.Field[Any], tp: Any, value: Any = None) -> str:
    spec = _spec_of(f)
    guess = _suggestion(tp, value, spec)
    if guess is not None:
        return guess
    if spec.example:
        return spec.example
    default = f.default if f.default is not dataclasses.MISSING else None
    if default is None and f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    return toml_value(default) if default is not None else {int: "1", float: "1.0", bool: "true", str: '"text"'}.get(_base_type(tp), "...")


def toml_value(v: Any) -> str:
    """A value written as in project.toml (``[300, 500]``, ``true``, ``"zh"``; unset: ``(unset)``)."""
    if v is None:
        return "(unset)"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, tuple | list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }" if v else "{ }"
    return f"{v:g}" if isinstance(v, float) else str(v)


SETTING_CODES = ("unknown_setting", "bad_setting", "setting_out_of_range")


def parse_record(
    cls: type[R],
    table: Any,
    *,
    where: str,
    file: str | None,
    layer: str = "project.toml",
    codes: tuple[str, str, str] = SETTING_CODES,
    noun: str = "setting",
    assign: str = "write {key} = {value}",
    elsewhere: Mapping[str, str] | None = None,
    partial: bool = False,
) -> tuple[R | None, list[Problem]]:
    """Check a TOML table against a dataclass and build it; every problem at once.

    Parameters
    ----------
    cls : dataclass type
        Fields declared with :func:`setting` (or plain dataclass fields).
    table : object
        The table as read from TOML (anything: a wrong type is reported).
    where : str
        How the table is named in messages, e.g. ``"[walk]"`` or ``"target 'gfa':"``.
    file : str or None
        The ``project.toml`` path, for messages.
    layer : str
        What the problems are filed under (the ``[...]`` of a report line).
    codes : (str, str, str)
        Problem codes for an unknown key, a wrong type or missing key, a value out of range.
    noun : str
        What a key is called in messages (``"[walk] has no setting 'x'"``).
    assign : str
        How a fix sets a value, with ``{key}`` and ``{value}`` (``"--set walk.{key}={value}"``
        on the command line).
    elsewhere : mapping, optional
        Keys of other tables: ``{key: "[walk]"}``, to say where an unknown key belongs.
    partial : bool
        On errors, still build the record from the valid keys (defaults for the rest),
        so that checks needing the whole record can run and report too.

    Returns
    -------
    (instance or None, list of Problem)
        ``None`` when an error prevents building the record.

    Examples
    --------
    >>> from renewgeo.settings import parse_record, Settings
    >>> from renewgeo.walkability import WalkSettings
    >>> obj, probs = parse_record(WalkSettings, {"max_snap_m": "80 m", "sped_m_s": 1}, where="[walk]", file=None)
    >>> obj is None, [p.code for p in probs]
    (True, ['unknown_setting', 'bad_setting'])
    >>> [(p.message, p.fix) for p in probs][1]
    ("[walk] max_snap_m must be a number, got the text '80 m'", 'write max_snap_m = 80')
    """
    unknown_code, bad_code, range_code = codes

    def problem(message: str, fix: str, pcode: str) -> Problem:
        return Problem("error", layer, f"{where} {message}", fix, file=file, code=pcode)

    if not isinstance(table, Mapping):
        return None, [problem(f"must be a table, got {_describe(table)}", f"write it as {where} with key = value lines", bad_code)]
    hints = _hints(cls)
    flds = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    probs = [problem(f"has no {noun} {key!r}", _unknown_fix(str(key), flds, elsewhere or {}), unknown_code)
             for key in table if key not in flds]
    kwargs: dict[str, Any] = {}
    for name, f in flds.items():
        if name not in table:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                probs.append(problem(f"lacks {name!r}", "add " + assign.format(key=name, value=_example(f, hints[name])), bad_code))
            continue
        try:
            kwargs[name] = convert(hints[name], table[name], _spec_of(f))
        except _BadValueError as exc:
            fix = assign.format(key=name, value=_example(f, hints[name], table[name]))
            probs.append(problem(f"{name} {exc}", fix, range_code if exc.code == "setting_out_of_range" else bad_code))
    if probs and not partial:
        return None, probs
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:  # a record's own cross-field check (__post_init__), or a required key missing
        return None, probs or [problem(str(exc), "see the message", bad_code)]
    return obj, probs


def _unknown_fix(key: str, known: Iterable[str], elsewhere: Mapping[str, str]) -> str:
    if key in elsewhere:
        return f"{key} belongs in {elsewhere[key]}: move it there"
    s = closest(key, known)
    return f"did you mean {s!r}?" if s else f"use one of {sorted(known)}"


# ---------------------------------------------------------------------------- sections
SECTIONS: dict[str, type[Section]] = {}
"""Every registered settings section, by its ``project.toml`` table name."""


@dataclass(frozen=True)
class Section:
    """Base of a settings section: a frozen dataclass of :func:`setting` fields.

    Subclasses set ``name`` (the TOML table) and ``title``, and are registered with
    :func:`section`. ``check(context)`` may add problems that need the project (a
    setting naming a layer, say); it gets the layer kinds by name.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""

    def check(self, layers: Mapping[str, str], vocabulary: Mapping[str, Any]) -> list[str]:
        """Problems that need the project's layers (``{name: kind}``) and vocabulary; none by default."""
        return []

    def check_files(self, root: Path | None, *, allow_network: bool) -> list[FileProblem]:
        """Problems of the files the section names (read from the project folder ``root``); none by default."""
        return []

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-able values."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


def section(cls: type[S]) -> type[S]:
    """Register a settings section class (use as a class decorator)."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} needs a class attribute name = '<toml table>'")
    if cls.name in SECTIONS and SECTIONS[cls.name].__qualname__ != cls.__qualname__:
        raise TypeError(f"settings section [{cls.name}] is declared twice ({SECTIONS[cls.name].__qualname__}, {cls.__qualname__})")
    SECTIONS[cls.name] = cls
    return cls


def legacy_keys() -> dict[str, list[tuple[str, str]]]:
    """``[thresholds]`` key -> the (section, setting) pairs that replace it."""
    out: dict[str, list[tuple[str, str]]] = {}
    for name, cls in SECTIONS.items():
        for f in fields(cls):
            old = _spec_of(f).legacy
            if old:
                out.setdefault(old, []).append((name, f.name))
    return out


class Settings:
    """Every section of a project's settings, checked; immutable.

    Access a section as an attribute (``settings.walk``) or, typed, with
    :meth:`get` (``settings.get(WalkSettings)``). :meth:`override` returns a new
    object with ``"section.key": value`` changes checked like ``project.toml``.
    """

    def __init__(self, sections: Mapping[str, Section]) -> None:
        self._sections = {name: sections.get(name) or cls() for name, cls in SECTIONS.items()}

    @classmethod
    def defaults(cls) -> Settings:
        """Every registered section at its defaults."""
        return cls({})

    def __getattr__(self, name: str) -> Any:
        sections = self.__dict__.get("_sections", {})
        if name in sections:
            return sections[name]
        s = closest(name, sections)
        raise AttributeError(f"no settings section {name!r}" + (f" (did you mean {s!r}?)" if s else f"; sections: {sorted(sections)}"))

    def __setattr__(self, name: str, value: Any) -> None:
        if name != "_sections":
            raise AttributeError("Settings are immutable: use settings.override({'walk.speed_m_s': 1.2})")
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return [*super().__dir__(), *self._sections]

    def get(self, cls: type[S]) -> S:
        """The section of type ``cls``, typed."""
        sec = self._sections[cls.name]
        if not isinstance(sec, cls):
            raise TypeError(f"section [{cls.name}] is a {type(sec).__name__}, not {cls.__name__}")
        return sec

    def sections(self) -> dict[str, Section]:
        """The sections by table name."""
        return dict(self._sections)

    def override(self, changes: Mapping[str, Any], *, layers: Mapping[str, str] | None = None,
                 vocabulary: Mapping[str, Any] | None = None) -> Settings:
        """A copy with ``{"section.key": value}`` changes, checked as in ``project.toml``.

        Parameters
        ----------
        changes : mapping
            ``{"walk.speed_m_s": 1.2, ...}``.
        layers, vocabulary : mapping, optional
            The project's layer kinds by name and its vocabulary, for the sections' own
            checks (a setting that names a layer).

        Raises
        ------
        ProjectFileError
            Naming every bad key or value and the fix.
        """
        new, probs = self.checked_override(changes, layers=layers, vocabulary=vocabulary)
        if probs:
            raise ProjectFileError("bad settings:\n" + "\n".join(p.format() for p in probs))
        return new

    def checked_override(self, changes: Mapping[str, Any], *, layers: Mapping[str, str] | None = None,
                         vocabulary: Mapping[str, Any] | None = None,
                         source: str = "settings") -> tuple[Settings, list[Problem]]:
        """Like :meth:`override`, returning the problems instead of raising.

        ``source`` files the problems (``"command line"`` also words the fixes as ``--set`` options).
        """
        grouped: dict[str, dict[str, Any]] = {}
        probs: list[Problem] = []
        for dotted, value in changes.items():
            sec, _, key = str(dotted).partition(".")
            if sec not in self._sections or not key:
                s = closest(sec, self._sections)
                probs.append(Problem("error", source, f"{dotted!r} names no setting", "write SECTION.KEY, e.g. walk.speed_m_s"
                                     + (f" (did you mean section {s!r}?)" if s else f"; sections: {sorted(self._sections)}"),
                                     code="unknown_setting"))
                continue
            grouped.setdefault(sec, {})[key] = value
        new = dict(self._sections)
        for sec, kv in grouped.items():
            table = {**self._sections[sec].to_dict(), **kv}
            assign = f"--set {sec}.{{key}}={{value}}" if source == "command line" else f'set "{sec}.{{key}}" to {{value}}'
            obj, p = parse_record(type(self._sections[sec]), table, where=f"[{sec}]", file=None, layer=source, assign=assign)
            probs.extend(p)
            if obj is None:
                continue
            new[sec] = obj
            if layers is not None:
                probs.extend(Problem("error", source, f"[{sec}] {msg}", "see renewgeo settings for the setting", code="bad_setting")
                             for msg in obj.check(layers, vocabulary or {}))
        return Settings(new), probs

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """All settings as plain values, by section."""
        return {name: sec.to_dict() for name, sec in self._sections.items()}

    def sha256(self) -> str:
        """A stable hash of the resolved settings (for run manifests)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        changed = {f"{name}.{k}": v for name, sec in self._sections.items()
                   for k, v in sec.to_dict().items() if v != type(sec)().to_dict()[k]}
        return f"<Settings: {len(self._sections)} sections, {len(changed)} changed from the defaults{': ' + repr(changed) if changed else ''}>"

    def describe(self) -> pd.DataFrame:
        """One row per setting: section, key, value, default, whether changed, what it means."""
        return describe(self)

    def _repr_html_(self) -> str:
        d = self.describe()
        rows = "".join(
            "<tr" + (" style='font-weight:bold'" if r.changed else "") + f"><td>[{html.escape(str(r.section))}]</td><td>{html.escape(str(r.key))}</td>"
            f"<td>{html.escape(str(r.value))}</td><td>{html.escape(str(r.default))}</td><td>{html.escape(str(r.doc))}</td></tr>"
            for r in d.itertuples()
        )
        return ("<div><b>Settings</b> (bold: changed from the default)<table><thead><tr><th>section</th><th>key</th>"
                f"<th>value</th><th>default</th><th>meaning</th></tr></thead><tbody>{rows}</tbody></table></div>")


def describe(settings: Settings | None = None) -> pd.DataFrame:
    """Every setting: section, key, type, value, default, bounds, the key it replaces, meaning.

    Examples
    --------
    >>> from renewgeo.settings import describe
    >>> d = describe().set_index(["section", "key"])
    >>> d.loc[("walk", "speed_m_s"), "default"]
    1.0
    """
    current = settings or Settings.defaults()
    rows = []
    for name, sec in current.sections().items():
        default = type(sec)()
        hints = _hints(type(sec))
        for f in fields(sec):
            spec = _spec_of(f)
            value, dflt = getattr(sec, f.name), getattr(default, f.name)
            bounds = ", ".join(f"{w} {b:g}" for w, b in ((">=", spec.ge), (">", spec.gt), ("<=", spec.le)) if b is not None)
            rows.append({
                "section": name, "key": f.name, "type": _type_name(hints[f.name]), "value": value, "default": dflt,
                "changed": value != dflt, "bounds": bounds or (f"one of {list(spec.choices)}" if spec.choices else ""),
                "replaces": f"[thresholds] {spec.legacy}" if spec.legacy else "", "doc": spec.doc,
            })
    return pd.DataFrame(rows)


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is tuple:
        return f"list of {_type_name(get_args(tp)[0])}"
    if origin in (dict, Mapping):
        return f"table of {_type_name(get_args(tp)[1])}"
    if origin is Literal:
        return "text"
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None)) + (" (optional)" if type(None) in get_args(tp) else "")
    return {float: "number", int: "whole number", bool: "true/false", str: "text"}.get(tp, str(tp))


# ------------------------------------------------------------------------- the loader
def load(
    doc: Mapping[str, Any], thresholds: Mapping[str, Any] | None, file: str | None
) -> tuple[Settings, list[Problem], list[str]]:
    """Settings from a ``project.toml`` document (its section tables and legacy ``[thresholds]``).

    Returns
    -------
    (Settings, problems, deprecations)
        Sections with errors keep their defaults (the load fails on the errors anyway);
        ``deprecations`` are the FutureWarning messages for ``[thresholds]`` keys.
    """
    tables: dict[str, dict[str, Any]] = {}
    probs: list[Problem] = []
    for name in SECTIONS:
        t = doc.get(name, {})
        if not isinstance(t, Mapping):
            probs.append(Problem("error", "project.toml", f"[{name}] must be a table of settings, got {_describe(t)}",
                                 f"write [{name}] on its own line followed by key = value lines", file=file, code="bad_setting"))
            continue
        tables[name] = dict(t)
    deprecations = _merge_legacy(thresholds or {}, tables, probs, file)
    sections: dict[str, Section] = {}
    home = {f.name: f"[{n}]" for n, c in SECTIONS.items() for f in fields(c)}
    for name, cls in SECTIONS.items():
        if name not in tables:
            continue
        elsewhere = {k: v for k, v in home.items() if v != f"[{name}]"}
        obj, p = parse_record(cls, tables[name], where=f"[{name}]", file=file, partial=True, elsewhere=elsewhere)
        probs.extend(p)
        if obj is not None:
            sections[name] = obj
    return Settings(sections), probs, deprecations


def _merge_legacy(thresholds: Any, tables: dict[str, dict[str, Any]], probs: list[Problem], file: str | None) -> list[str]:
    if not isinstance(thresholds, Mapping):
        probs.append(Problem("error", "project.toml", "[thresholds] must be a table", "move its keys into [area], [walk], [release] ...",
                             file=file, code="bad_setting"))
        return []
    mapping = legacy_keys()
    out = []
    for old, value in thresholds.items():
        targets = mapping.get(old)
        if not targets:
            s = closest(old, mapping)
            probs.append(Problem("error", "project.toml", f"[thresholds] has no setting {old!r}",
                                 (f"did you mean {s!r}? " if s else "") + "[thresholds] is deprecated: use the analysis sections "
                                 f"({', '.join(f'[{n}]' for n in SECTIONS)}); see renewgeo.settings.describe()",
                                 file=file, code="unknown_setting"))
            continue
        for sec, key in targets:
            if key in tables.get(sec, {}):
                probs.append(Problem("error", "project.toml", f"[thresholds] {old} and [{sec}] {key} both set the same thing",
                                     f"keep [{sec}] {key} and delete [thresholds] {old}", file=file, code="bad_setting"))
                continue
            tables.setdefault(sec, {})[key] = value
        new = " and ".join(f"[{sec}] {key}" for sec, key in targets)
        out.append(f"[thresholds] {old} is deprecated; write it as {new} (and delete it from [thresholds])")
    return out
