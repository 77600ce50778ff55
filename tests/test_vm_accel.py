"""KVM only where real hardware virtualization exists."""

import pytest

from vm.accel import choose, cpu_flags

INTEL = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr vmx sse2\n"
AMD = "processor\t: 0\nflags\t\t: fpu svm sse2 lm\n"
NO_VIRT = "processor\t: 0\nflags\t\t: fpu sse2 lm hypervisor\n"


def test_flags_are_read_from_every_flags_line() -> None:
    assert {"vmx", "sse2"} <= cpu_flags(INTEL)


@pytest.mark.parametrize(
    ("cpuinfo", "modules", "kvm_node", "expected"),
    [
        (INTEL, {"kvm", "kvm_intel"}, True, "kvm"),
        (AMD, {"kvm", "kvm_amd"}, True, "kvm"),
        # /dev/kvm from kvm_pvm: software virtualization, far slower than TCG.
        (NO_VIRT, {"kvm", "kvm_pvm"}, True, "tcg"),
        (INTEL, {"kvm", "kvm_intel", "kvm_pvm"}, True, "tcg"),
        (INTEL, {"kvm"}, True, "tcg"),  # the vendor module is not loaded
        (INTEL, {"kvm", "kvm_intel"}, False, "tcg"),  # no usable /dev/kvm
        (NO_VIRT, set(), False, "tcg"),
    ],
)
def test_choice(cpuinfo: str, modules: set[str], kvm_node: bool, expected: str) -> None:
    assert choose(cpuinfo, modules, {}, kvm_node) == expected


def test_environment_overrides_in_both_directions() -> None:
    assert choose(NO_VIRT, set(), {"RKT_REF_ACCEL": "kvm"}, False) == "kvm"
    assert choose(INTEL, {"kvm_intel"}, {"RKT_REF_ACCEL": "TCG"}, True) == "tcg"


def test_a_bad_override_is_one_clear_error() -> None:
    with pytest.raises(SystemExit, match="must be 'kvm' or 'tcg'"):
        choose(INTEL, set(), {"RKT_REF_ACCEL": "hvf"}, True)
