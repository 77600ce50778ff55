"""rkt_ref.record: the frozen (and mutable) records rkt_ref uses instead of dataclasses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rkt_ref.record import FrozenInstanceError, asdict, field, mutable_record, record, replace


@record
class Port:
    name: str
    number: int = 80
    tags: tuple[str, ...] = field(default=())


@record
class Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


@record
class Outer:
    ports: tuple[Port, ...]
    extra: dict[str, list[int]] = field(default_factory=dict)


@mutable_record
class Counter:
    name: str
    count: int = 0


def test_fields_are_the_annotations_in_order_positional_or_by_keyword() -> None:
    assert Port("http") == Port(name="http", number=80, tags=())
    assert Port("dns", 53).number == 53
    assert repr(Port("dns", 53)) == "Port(name='dns', number=53, tags=())"


def test_a_missing_unknown_or_repeated_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="missing the argument 'name'"):
        Port()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'port'"):
        Port("x", port=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'name'"):
        Port("x", name="y")  # type: ignore[misc]
    with pytest.raises(TypeError, match="takes 3 arguments"):
        Port("x", 1, (), 4)  # type: ignore[call-arg]


def test_field_without_a_default_leaves_the_field_required() -> None:
    @record
    class Named:
        name: str = field()

    with pytest.raises(TypeError, match="missing the argument 'name'"):
        Named()  # type: ignore[call-arg]
    assert Named("x").name == "x"


def test_a_default_factory_makes_a_new_value_for_each_record() -> None:
    a, b = Outer(()), Outer(())
    a.extra["x"] = [1]
    assert b.extra == {}
    assert "extra" not in Outer.__dict__


def test_a_frozen_record_refuses_assignment_and_is_hashable_by_value() -> None:
    port = Port("http")
    with pytest.raises(FrozenInstanceError):
        port.number = 8080  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del port.name  # type: ignore[misc]
    assert hash(port) == hash(Port("http")) and len({port, Port("http"), Port("dns")}) == 2


def test_equality_needs_the_same_class() -> None:
    @record
    class Other:
        name: str
        number: int = 80
        tags: tuple[str, ...] = ()

    assert Port("http") != Other("http")
    assert Port("http") != ("http", 80, ())


def test_a_mutable_record_can_be_assigned_and_is_not_hashable() -> None:
    counter = Counter("x")
    counter.count += 1
    assert counter == Counter("x", 1)
    with pytest.raises(TypeError):
        hash(counter)


def test_post_init_runs_on_construction_and_on_replace() -> None:
    with pytest.raises(ValueError, match="negative"):
        Checked(-1)
    assert replace(Checked(1), value=2) == Checked(2)
    with pytest.raises(ValueError, match="negative"):
        replace(Checked(1), value=-1)


def test_replace_copies_and_changes_only_the_given_fields() -> None:
    port = Port("http", 80, ("a",))
    assert replace(port, number=8080) == Port("http", 8080, ("a",))
    assert port.number == 80


def test_asdict_turns_nested_records_into_json_ready_values() -> None:
    outer = Outer((Port("http"), Port("dns", 53, ("udp",))), {"x": [1]})
    data = asdict(outer)
    assert data == {"ports": ({"name": "http", "number": 80, "tags": ()},
                              {"name": "dns", "number": 53, "tags": ("udp",)}),
                    "extra": {"x": [1]}}
    assert json.loads(json.dumps(data))["ports"][1]["tags"] == ["udp"]


@pytest.mark.parametrize("argv", [["version"], ["list", "--full"], ["image", "list"]])
def test_common_commands_import_neither_dataclasses_nor_typing(argv: list[str],
                                                                tmp_path: Path) -> None:
    # Each costs about 0.1 s of CPU per command under emulation (python3 -X importtime).
    script = ("import sys; from rkt_ref.__main__ import main\n"
              "try:\n    main()\nexcept SystemExit:\n    pass\n"
              "print(sorted({'dataclasses', 'typing', 'inspect', 'decimal'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True,
                         env={"RKT_REF_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
                         cwd=Path(__file__).parents[1], check=True).stdout
    assert out.splitlines()[-1] == "[]"
