"""Typed, validated experiment configs that round-trip through JSON.

Configs are code (``experiments/<name>.py`` defines ``get_config()``), built from frozen dataclasses
that derive from :class:`Config`. Every class registers itself under a ``kind`` name so that a config
saved as JSON with a checkpoint can be rebuilt without importing the experiment file. Overrides from
the command line (``--set optimizer.lr=3e-4``) are parsed against the field's annotated type, and
``validate()`` runs before anything compiles, so a bad value fails naming the field.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import math
import pathlib
import types
import typing
from typing import Any, ClassVar

_REGISTRY: dict[str, type[Config]] = {}


class ConfigError(ValueError):
    """A config value is wrong; the message names the field (``a.b.c``) and the reason."""


@dataclasses.dataclass(frozen=True)
class Config:
    """Base of every config dataclass.

    Subclasses set ``kind`` (a unique name used in JSON) and may override ``check()`` to validate
    their own fields; nested configs are validated recursively by :func:`validate`.
    """

    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("kind")
        if name:
            if name in _REGISTRY and _REGISTRY[name].__qualname__ != cls.__qualname__:
                raise TypeError(f"config kind {name!r} registered twice ({_REGISTRY[name]} and {cls})")
            _REGISTRY[name] = cls

    def check(self) -> None:
        """Raise ``ConfigError(field, reason)`` via :func:`fail` for invalid own fields."""

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)


def fail(field: str, reason: str) -> typing.NoReturn:
    raise ConfigError(f"config field '{field}': {reason}")


def require(cond: bool, field: str, reason: str) -> None:
    if not cond:
        fail(field, reason)


def config_class(kind: str) -> type[Config]:
    """The config class registered under ``kind`` (classes register themselves when defined).

    The config layer imports nothing above it, so a kind is known once its module has been imported:
    an experiment file imports what it configures, and ``import jaxrobot.catalog`` (which the ``jaxrobot``
    command does) imports every kind jaxrobot defines, so a checkpoint's config JSON rebuilds anywhere.
    """
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise ConfigError(f"unknown config kind {kind!r} (import jaxrobot.catalog to load every kind jaxrobot "
                          f"defines); known: {sorted(_REGISTRY)}") from None


def _type_hints(cls: type) -> dict[str, Any]:
    """Field annotations resolved in the module of the class that declares each field (a base class in
    another module, such as a task config deriving from a shared one, keeps its own names)."""
    import sys

    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        own = klass.__dict__.get("__annotations__", {})
        if not own:
            continue
        module = sys.modules.get(klass.__module__)
        names = dict(vars(module)) if module is not None else {}
        for name, annotation in own.items():
            if isinstance(annotation, str):
                annotation = eval(annotation, names, dict(vars(klass)))  # noqa: S307 - annotations only
            hints[name] = annotation
    return hints


#: Field metadata key of a float field that may be +/-inf (``dataclasses.field(default=..., metadata={ALLOW_INF:
#: True})``). Every other float (alone, in a tuple, or optional) must be finite; NaN is never accepted.
ALLOW_INF = "allow_inf"


def validate(cfg: Config, prefix: str = "") -> Config:
    """Validate ``cfg`` and every nested config; errors name the full dotted field path.

    Besides each class's own ``check()``, every value must match its annotated type, and floats must be
    finite (a ``lr=inf`` would otherwise pass ``lr > 0`` and poison training) unless the field's metadata
    sets :data:`ALLOW_INF`.
    """
    hints = _type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        path = f"{prefix}{f.name}"
        if isinstance(value, Config):
            validate(value, path + ".")
            continue
        _check_type(value, hints.get(f.name, Any), path, allow_inf=bool(f.metadata.get(ALLOW_INF, False)))
    try:
        cfg.check()
    except ConfigError as e:
        if prefix and "config field '" in str(e):
            raise ConfigError(str(e).replace("config field '", f"config field '{prefix}", 1)) from None
        raise
    return cfg


def _check_type(value: Any, tp: Any, path: str, allow_inf: bool = False) -> None:
    origin = typing.get_origin(tp)
    if tp is Any:
        return
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is not None and len(args) == 1:  # Optional[X]: X's own reason ("must be finite", ...)
            _check_type(value, args[0], path, allow_inf)
            return
        errors = []
        for arg in typing.get_args(tp):
            try:
                _check_type(value, arg, path, allow_inf)
                return
            except ConfigError as e:
                errors.append(str(e))
        fail(path, f"{value!r} does not match {tp}")
    if tp is type(None):
        require(value is None, path, f"expected None, got {value!r}")
        return
    if origin is typing.Literal:
        require(value in typing.get_args(tp), path, f"{value!r} is not one of {typing.get_args(tp)}")
        return
    if origin is tuple:
        require(isinstance(value, tuple), path, f"expected a tuple, got {type(value).__name__}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            for i, v in enumerate(value):
                _check_type(v, args[0], f"{path}[{i}]", allow_inf)
        elif args:
            require(len(value) == len(args), path, f"expected {len(args)} items, got {len(value)}")
            for i, (v, a) in enumerate(zip(value, args, strict=True)):
                _check_type(v, a, f"{path}[{i}]", allow_inf)
        return
    if origin is dict:
        require(isinstance(value, dict), path, f"expected a dict, got {type(value).__name__}")
        return
    if tp is float:
        require(isinstance(value, (int, float)) and not isinstance(value, bool), path,
                f"expected a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            require(allow_inf and not math.isnan(value), path, f"must be a finite number, got {value}")
        return
    if tp is int:
        require(isinstance(value, int) and not isinstance(value, bool), path, f"expected an int, got {value!r}")
        return
    if isinstance(tp, type):
        require(isinstance(value, tp), path, f"expected {tp.__name__}, got {type(value).__name__} {value!r}")


# ---------------------------------------------------------------- JSON round trip


def to_dict(cfg: Config) -> dict[str, Any]:
    """Plain JSON-able dict; nested configs carry their ``kind`` so :func:`from_dict` can rebuild them."""
    out: dict[str, Any] = {"kind": type(cfg).kind}
    for f in dataclasses.fields(cfg):
        out[f.name] = _encode(getattr(cfg, f.name))
    return out


def _encode(v: Any) -> Any:
    if isinstance(v, Config):
        return to_dict(v)
    if isinstance(v, tuple):
        return [_encode(x) for x in v]
    if isinstance(v, dict):
        return {k: _encode(x) for k, x in v.items()}
    return v


def from_dict(d: dict[str, Any]) -> Config:
    cls = config_class(d["kind"])
    hints = _type_hints(cls)
    kwargs = {}
    names = {f.name for f in dataclasses.fields(cls)}
    for k, v in d.items():
        if k == "kind":
            continue
        if k not in names:
            raise ConfigError(f"config field '{k}': unknown field of {cls.__name__}")
        kwargs[k] = _decode(v, hints[k])
    return cls(**kwargs)


def _is_config_dict(v: Any) -> bool:
    if not (isinstance(v, dict) and isinstance(v.get("kind"), str)):
        return False
    try:
        config_class(v["kind"])
    except ConfigError:
        return False
    return True


def _decode(v: Any, tp: Any) -> Any:
    if _is_config_dict(v) or (isinstance(v, dict) and isinstance(v.get("kind"), str) and isinstance(tp, type)
                              and issubclass(tp, Config)):
        return from_dict(v)  # an unknown kind where a config belongs fails here, naming the kind
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if v is None:
            return None
        return _decode(v, args[0]) if len(args) == 1 else _listify(v)
    if origin is tuple and isinstance(v, list):
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(x, args[0]) for x in v)
        if args:
            return tuple(_decode(x, a) for x, a in zip(v, args, strict=True))
        return tuple(v)
    if tp is float and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    return v


def _listify(v: Any) -> Any:
    return tuple(_listify(x) for x in v) if isinstance(v, list) else v


def config_changes(old: Any, new: Any, prefix: str = "") -> list[str]:
    """``"a.b: old -> new"`` for every leaf that differs between two config dicts."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            if k == "kind" and old.get(k) != new.get(k):
                return [f"{prefix or 'config'}: kind {old.get(k)!r} -> {new.get(k)!r}"]
            key = f"{prefix}.{k}" if prefix else str(k)
            out += config_changes(old.get(k), new.get(k), key)
        return out
    return [] if old == new else [f"{prefix}: {old!r} -> {new!r}"]


def to_json(cfg: Config) -> str:
    return json.dumps(to_dict(cfg), indent=2, sort_keys=True)


def from_json(text: str) -> Config:
    return from_dict(json.loads(text))


# ---------------------------------------------------------------- overrides


def override(cfg: Config, assignment: str) -> Config:
    """Apply one ``dotted.path=value`` override; the value is parsed as the field's type."""
    if "=" not in assignment:
        raise ConfigError(f"override {assignment!r}: expected key=value")
    key, raw = assignment.split("=", 1)
    parts = key.strip().split(".")
    return _set(cfg, parts, raw.strip(), key.strip())


def _set(cfg: Config, parts: list[str], raw: str, full: str) -> Config:
    names = {f.name for f in dataclasses.fields(cfg)}
    head = parts[0]
    if head not in names:
        raise ConfigError(f"config field '{full}': {type(cfg).__name__} has no field {head!r}; "
                          f"fields: {sorted(names)}")
    current = getattr(cfg, head)
    if len(parts) > 1:
        if not isinstance(current, Config):
            raise ConfigError(f"config field '{full}': {head!r} is not a nested config")
        return dataclasses.replace(cfg, **{head: _set(current, parts[1:], raw, full)})
    tp = _type_hints(type(cfg))[head]
    return dataclasses.replace(cfg, **{head: parse_value(raw, tp, full, current)})


def parse_value(raw: str, tp: Any, field: str, current: Any = None) -> Any:
    """Parse a command-line string as type ``tp`` (int, float, bool, str, tuples, Literal, Optional)."""
    origin = typing.get_origin(tp)
    if isinstance(current, Config) or (isinstance(tp, type) and issubclass(tp, Config)):
        try:
            return from_dict(json.loads(raw))
        except (json.JSONDecodeError, KeyError) as e:
            raise ConfigError(f"config field '{field}': expected a JSON config object ({e})") from None
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if raw.lower() in ("none", "null") and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return parse_value(raw, a, field)
            except ConfigError:
                continue
        raise ConfigError(f"config field '{field}': cannot parse {raw!r} as {tp}")
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        for c in choices:
            if str(c) == raw:
                return c
        raise ConfigError(f"config field '{field}': {raw!r} is not one of {choices}")
    if tp is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"config field '{field}': expected a boolean, got {raw!r}")
    if tp is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"config field '{field}': expected an int, got {raw!r}") from None
    if tp is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"config field '{field}': expected a number, got {raw!r}") from None
    if tp is str:
        return raw
    if origin is tuple or origin is dict:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            if origin is tuple:
                value = tuple(x.strip() for x in raw.split(",") if x.strip())
            else:
                raise ConfigError(f"config field '{field}': expected a Python literal, got {raw!r}") from None
        if origin is tuple:
            value = tuple(value) if isinstance(value, (list, tuple)) else (value,)
            args = typing.get_args(tp)
            if len(args) == 2 and args[1] is Ellipsis and args[0] in (int, float, str):
                try:
                    value = tuple(args[0](x) for x in value)
                except ValueError:
                    raise ConfigError(f"config field '{field}': cannot parse {raw!r} as {tp}") from None
        return value
    raise ConfigError(f"config field '{field}': cannot override a value of type {tp} from the command line")


# ---------------------------------------------------------------- experiment files


def _split_experiment_spec(spec: str | pathlib.Path) -> tuple[pathlib.Path, str | None]:
    """``FILE.py:VARIANT`` -> ``(FILE.py, VARIANT)``; any other spec is a plain path with no variant.

    The variant is what follows the last colon, and only when what precedes it ends in ``.py`` (as
    big_vision's ``--config file.py:arg``), so paths that merely contain a colon keep working.
    """
    text = str(spec)
    head, colon, arg = text.rpartition(":")
    if not (colon and head.endswith(".py")):
        return pathlib.Path(text), None
    if not arg:
        raise ConfigError(f"config {text!r}: empty variant after ':' (expected FILE.py:VARIANT)")
    return pathlib.Path(head), arg


def load_experiment(path: str | pathlib.Path, overrides: typing.Sequence[str] = ()) -> Config:
    """Load an experiment file, apply overrides, validate.

    ``experiments/<name>.py`` calls the file's ``get_config()``; ``experiments/<name>.py:<variant>`` calls
    ``get_config("<variant>")``, one of the variants of a recipe. A recipe lists its variants in a module-level
    ``VARIANTS`` tuple, so an unknown one fails naming the known ones before ``get_config`` runs.
    """
    import inspect

    path, arg = _split_experiment_spec(path)
    if path.suffix != ".py":
        hint = f" (did you mean {path.with_suffix('.py')}?)" if path.with_suffix(".py").is_file() else ""
        raise ConfigError(f"config file {path} is not a .py file (expected FILE.py or FILE.py:VARIANT){hint}")
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise ConfigError(f"config file {path} {what}{_similar_files(path)}")
    module = _exec_experiment(path)
    get_config = getattr(module, "get_config", None)
    if not callable(get_config):
        raise ConfigError(f"config file {path} defines no get_config()")
    if arg is None:
        cfg = _call_get_config(path, get_config)
    else:
        try:
            params = inspect.signature(get_config).parameters.values()
        except (TypeError, ValueError):
            params = ()
        if not any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params):
            raise ConfigError(f"config file {path} has no variants (its get_config() takes no argument); "
                              f"cannot select {arg!r}")
        variants = getattr(module, "VARIANTS", None)
        if variants is not None and arg not in variants:
            raise ConfigError(f"config file {path}: unknown variant {arg!r}; known: {', '.join(variants)}")
        cfg = _call_get_config(path, get_config, arg)
    if not isinstance(cfg, Config):
        raise ConfigError(f"{path}: get_config() returned {type(cfg).__name__}, not a jaxrobot Config")
    for o in overrides:
        cfg = override(cfg, o)
    return validate(cfg)


def _similar_files(path: pathlib.Path) -> str:
    """`` (similar: a.py, b.py)`` from the folder of a missing experiment file, or ``""``."""
    import difflib

    try:
        names = sorted(p.name for p in path.parent.glob("*.py") if p.is_file()) if path.parent.is_dir() else []
    except OSError:
        return ""
    close = difflib.get_close_matches(path.name, names, n=3, cutoff=0.6)
    return f" (similar: {', '.join(str(path.parent / n) for n in close)})" if close else ""


def _error_line(path: pathlib.Path, e: BaseException) -> str:
    """``, line N`` of the innermost traceback frame of ``e`` inside ``path`` (or ``""``)."""
    import traceback

    line = None
    for frame in traceback.extract_tb(e.__traceback__):
        if pathlib.Path(frame.filename).resolve() == path.resolve():
            line = frame.lineno
    return f", line {line}" if line else ""


def _exec_experiment(path: pathlib.Path) -> types.ModuleType:
    """Import an experiment file; a syntax error or an exception while it runs is a ConfigError naming the
    file and the line (the original exception is chained for ``--debug``)."""
    spec = importlib.util.spec_from_file_location(f"jaxrobot_experiment_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"config file {path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:  # includes IndentationError and undecodable source
        where = f"{e.filename or path}" + (f", line {e.lineno}" if e.lineno else "")
        raise ConfigError(f"config file {where}: {type(e).__name__}: {e.msg}"
                          + (f": {e.text.strip()!r}" if e.text and e.text.strip() else "")) from e
    except OSError as e:
        raise ConfigError(f"config file {path}: cannot read it ({e.strerror or e})") from e
    except ConfigError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure of the user's file is a config error
        raise ConfigError(f"config file {path}{_error_line(path, e)}: {type(e).__name__} while loading: {e}") from e
    return module


def _call_get_config(path: pathlib.Path, get_config: typing.Callable, *args: str) -> Any:
    try:
        return get_config(*args)
    except ConfigError:
        raise
    except Exception as e:  # noqa: BLE001 - as in _exec_experiment
        call = f"get_config({', '.join(repr(a) for a in args)})"
        raise ConfigError(f"config file {path}{_error_line(path, e)}: {call} raised {type(e).__name__}: {e}") from e


def load_experiment_module(here: str | pathlib.Path, name: str) -> types.ModuleType:
    """The module of experiment file ``name`` in the folder of the file ``here``: recipes of one task share its
    facts (e.g. a ``SimDemos``) from one file instead of copying them. Failures are ``ConfigError``s."""
    return _exec_experiment(pathlib.Path(here).parent / name)


def load_variant(here: str | pathlib.Path, spec: str) -> Config:
    """The config of ``spec`` (``"act_pick_cube.py:state"``) in the folder of the file ``here``.

    For experiment files kept under a fixed name that are one variant of a recipe file: their whole body is
    ``def get_config(): return load_variant(__file__, "recipe.py:variant")``, so the recipe is not copied.
    """
    return load_experiment(pathlib.Path(here).parent / spec)
