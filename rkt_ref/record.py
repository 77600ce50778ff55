"""Records: the part of `dataclasses` rkt_ref uses, without what it costs on every command.

Importing dataclasses imports inspect (with ast, dis and tokenize), and each class it makes
compiles its methods from generated source. Under emulation that is about 0.2 s of CPU
before `rkt list` has read a file (python3 -X importtime in the VM), on every invocation.
A record is made from plain functions instead: its fields are its annotations in order,
with their defaults or `field(default_factory=...)`; it gets __init__ (then __post_init__),
__eq__ and __repr__, and, unless it is a mutable_record, __hash__ and no assignment.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported either, for the same reason
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
else:
    def dataclass_transform(**_options: object) -> object:
        return lambda decorator: decorator

_MISSING = object()
_FIELDS = "__record_fields__"


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen record."""


class Field:
    """A field's default that needs more than a value: a factory called per instance."""

    __slots__ = ("default", "default_factory")

    def __init__(self, default: object, default_factory: Callable[[], object] | object) -> None:
        self.default = default
        self.default_factory = default_factory

    def value(self) -> object:
        if self.default_factory is not _MISSING:
            return self.default_factory()  # type: ignore[operator]
        return self.default


def field(*, default: Any = _MISSING, default_factory: Any = _MISSING) -> Any:
    return Field(default, default_factory)


def _make_init(cls: type, names: tuple[str, ...],
               defaults: dict[str, object]) -> Callable[..., None]:
    setter = object.__setattr__
    known = frozenset(names)

    def __init__(self: object, *args: object, **kwargs: object) -> None:
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} arguments, got {len(args)}")
        values = dict(zip(names, args, strict=False))  # fewer args: defaults
        for name, value in kwargs.items():
            if name not in known or name in values:
                raise TypeError(f"{cls.__name__}() got an unexpected or repeated argument {name!r}")
            values[name] = value
        for name in names:
            if name in values:
                value = values[name]
            elif name in defaults:
                default = defaults[name]
                value = default.value() if isinstance(default, Field) else default
            else:
                raise TypeError(f"{cls.__name__}() is missing the argument {name!r}")
            setter(self, name, value)
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:
            post_init()

    return __init__


def _values(obj: object) -> tuple[object, ...]:
    return tuple(getattr(obj, name) for name in getattr(obj, _FIELDS))


def _eq(self: object, other: object) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self: object) -> int:
    return hash(_values(self))


def _repr(self: object) -> str:
    fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in getattr(self, _FIELDS))
    return f"{self.__class__.__qualname__}({fields})"


def _refuse_set(self: object, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _refuse_delete(self: object, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _build(cls: type[T], frozen: bool) -> type[T]:
    annotations = cls.__dict__.get("__annotations__", {})
    names = tuple(name for name, kind in annotations.items()
                  if not str(kind).startswith("ClassVar"))
    defaults: dict[str, object] = {}
    for name in names:
        if name not in cls.__dict__:
            continue
        default = cls.__dict__[name]
        if isinstance(default, Field):
            delattr(cls, name)  # no class attribute for a per-instance default
            if default.default is _MISSING and default.default_factory is _MISSING:
                continue  # field() alone: still required
        defaults[name] = default
    setattr(cls, _FIELDS, names)
    cls.__init__ = _make_init(cls, names, defaults)  # type: ignore[misc,method-assign]
    cls.__eq__ = _eq  # type: ignore[method-assign,assignment]
    cls.__repr__ = _repr  # type: ignore[method-assign,assignment]
    if frozen:
        cls.__hash__ = _hash  # type: ignore[method-assign,assignment]
        cls.__setattr__ = _refuse_set  # type: ignore[method-assign,assignment]
        cls.__delattr__ = _refuse_delete  # type: ignore[method-assign,assignment]
    else:
        cls.__hash__ = None  # type: ignore[assignment]  # equal by value, so not hashable
    return cls


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[T]) -> type[T]:
    """Make cls a frozen record."""
    return _build(cls, frozen=True)


@dataclass_transform(field_specifiers=(field,))
def mutable_record(cls: type[T]) -> type[T]:
    """Make cls a record whose fields can be assigned (and so not hashable)."""
    return _build(cls, frozen=False)


def replace(obj: T, **changes: Any) -> T:
    """A copy of the record obj with some fields changed (and checked again)."""
    values = {name: getattr(obj, name) for name in getattr(obj, _FIELDS)}
    return obj.__class__(**(values | changes))


def asdict(obj: object) -> Any:
    """The record obj as a dict, records within it too (for JSON)."""
    if hasattr(obj.__class__, _FIELDS):
        return {name: asdict(getattr(obj, name)) for name in getattr(obj, _FIELDS)}
    if isinstance(obj, (list, tuple)):
        return obj.__class__(asdict(v) for v in obj)
    if isinstance(obj, dict):
        return {k: asdict(v) for k, v in obj.items()}
    return obj
