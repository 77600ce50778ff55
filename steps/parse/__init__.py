"""Pure parsers for the outputs the document shows.

Every assertion of the spec goes through one of these: a scenario states a fact about a
process tree, a cgroup tree, a machine table or a unit's status, never about a substring
of a whole output. Each parser takes the text as a tool printed it and returns frozen
dataclasses; none of them runs anything.
"""

from steps.parse.cgls import CgroupNode, CgroupProcess, CgroupTree, parse_cgls
from steps.parse.journal import JournalEntry, env_block, parse_journal
from steps.parse.machinectl import MachineList, MachineRow, parse_machinectl_list
from steps.parse.ps import (
    PsForest,
    PsProcess,
    is_nspawn,
    is_nspawn_argv,
    is_rkt,
    is_rkt_argv,
    parse_ps_auxf,
    parse_ps_eo,
)
from steps.parse.rkt import (
    ImageRow,
    PodRow,
    parse_rkt_image_list,
    parse_rkt_list,
    parse_rkt_status,
)
from steps.parse.systemctl import (
    ActiveField,
    LoadedField,
    MainPidField,
    RunningAs,
    UnitStatus,
    parse_exec_status,
    parse_systemctl_show,
    parse_systemctl_status,
    parse_systemd_run,
)

__all__ = [
    "ActiveField",
    "CgroupNode",
    "CgroupProcess",
    "CgroupTree",
    "ImageRow",
    "JournalEntry",
    "LoadedField",
    "MachineList",
    "MachineRow",
    "MainPidField",
    "PodRow",
    "PsForest",
    "PsProcess",
    "RunningAs",
    "UnitStatus",
    "env_block",
    "is_nspawn",
    "is_nspawn_argv",
    "is_rkt",
    "is_rkt_argv",
    "parse_cgls",
    "parse_exec_status",
    "parse_journal",
    "parse_machinectl_list",
    "parse_ps_auxf",
    "parse_ps_eo",
    "parse_rkt_image_list",
    "parse_rkt_list",
    "parse_rkt_status",
    "parse_systemctl_show",
    "parse_systemctl_status",
    "parse_systemd_run",
]
