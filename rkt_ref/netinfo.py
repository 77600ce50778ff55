"""What a pod got from its networks, as recorded in its directory (rkt's net-info.json).

net writes it while it makes the networks and reads it to tear them down; `rkt list`,
`rkt status` and the API read it through this module alone, without importing what makes
networks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from .record import record

TYPE_CHECKING = False  # typing is not imported at run time (see record.py)
if TYPE_CHECKING:
    from typing import Any

NET_INFO = "net-info.json"


@record
class NetInfo:
    """What a pod got from one network (rkt's net-info.json entry)."""

    net_name: str
    net_conf: str  # relative to the pod directory: net/<file>
    plugin_path: str
    if_name: str
    ip: str
    args: str
    mask: str

    def to_json(self) -> dict[str, str]:
        return {"netName": self.net_name, "netConf": self.net_conf,
                "pluginPath": self.plugin_path, "ifName": self.if_name, "ip": self.ip,
                "args": self.args, "mask": self.mask}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> NetInfo:
        return cls(*(str(obj.get(k) or "") for k in (
            "netName", "netConf", "pluginPath", "ifName", "ip", "args", "mask")))


def load_info(pod_dir: Path) -> tuple[NetInfo, ...]:
    """What `rkt list`/`rkt status` show; empty for host/none pods or before setup."""
    try:
        data = json.loads((pod_dir / NET_INFO).read_text())
    except (OSError, ValueError):
        return ()
    if not isinstance(data, list):
        return ()
    return tuple(NetInfo.from_json(d) for d in data if isinstance(d, dict))
