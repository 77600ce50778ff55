"""systemd-cgls output (and the CGroup: block of systemctl status) as a cgroup tree.

Two shapes must parse:

* the document's (systemd ~219): no header, the tree starts at ``/`` with the host's PID 1
  printed as a process of the root, lines cut with ``...``;
* systemd 252's: a ``Control group /machine.slice:`` header, an optional root label line
  (``-.slice``), cgroup ids as ``(#2112)``, extended-attribute lines (``→ user.delegate: 1``)
  below a node, lines cut with ``…``.

Tree glyphs are UTF-8 (``├─ └─ │``) or, under a non-UTF-8 locale, ASCII (``|- `- |``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

_HEADER = re.compile(r"^Control group (?P<path>/.*):$")
# One indentation level is two columns: a continuing branch or blanks.
_BRANCH = re.compile(r"^(?P<indent>(?:│ |\| |  )*)(?:├─|└─|\|-|`-)(?P<rest>.*)$")
_XATTR = re.compile(r"^(?:│ |\| |  )*(?:→|->) \S+: ")
_PROCESS = re.compile(r"^(?P<pid>\d+) (?P<cmdline>.*)$")
_NODE = re.compile(r"^(?P<name>\S.*?)(?: \(#(?P<id>\d+)\))?$")
_ELLIPSES = ("…", "...")


@dataclass(frozen=True)
class CgroupProcess:
    """A process as systemd-cgls prints it: PID and its command line, maybe cut short."""

    pid: int
    cmdline: str
    truncated: bool = False

    @property
    def argv(self) -> tuple[str, ...]:
        # systemd-cgls joins argv with spaces; splitting back is exact for the argv the
        # spec looks at (no argument of nspawn, systemd or the apps contains a space).
        return tuple(self.cmdline.split())

    @property
    def executable(self) -> str:
        return self.argv[0] if self.argv else ""


@dataclass(frozen=True)
class CgroupNode:
    """One cgroup: absolute path, optional id, its own processes and child cgroups."""

    path: str
    cgroup_id: int | None = None
    processes: tuple[CgroupProcess, ...] = ()
    children: tuple[CgroupNode, ...] = ()

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1] or "/"

    def child(self, name: str) -> CgroupNode | None:
        return next((c for c in self.children if c.name == name), None)

    def walk(self) -> Iterator[CgroupNode]:
        """This node, then every descendant, depth first in printed order."""
        yield self
        for c in self.children:
            yield from c.walk()

    def find(self, relpath: str) -> CgroupNode | None:
        """The descendant at ``relpath`` (``a/b/c``) below this node, if printed."""
        node: CgroupNode | None = self
        for part in (p for p in relpath.split("/") if p):
            node = node.child(part) if node is not None else None
        return node

    def all_processes(self) -> tuple[CgroupProcess, ...]:
        return tuple(p for n in self.walk() for p in n.processes)

    def relative_paths(self) -> tuple[str, ...]:
        """Paths of all descendants relative to this node (``payload/init.scope``)."""
        prefix = self.path.rstrip("/") + "/"
        return tuple(n.path[len(prefix) :] for n in self.walk() if n is not self)


@dataclass(frozen=True)
class CgroupTree:
    root: CgroupNode

    def node(self, path: str) -> CgroupNode | None:
        """The node at absolute ``path``; None when the tree does not print it."""
        rootpath = self.root.path.rstrip("/")
        path = "/" + path.strip("/")
        if path.rstrip("/") == rootpath or path == self.root.path:
            return self.root
        if not path.startswith(rootpath + "/"):
            return None
        return self.root.find(path[len(rootpath) + 1 :])

    def nodes_named(self, name: str) -> tuple[CgroupNode, ...]:
        return tuple(n for n in self.root.walk() if n.name == name)

    def locate(self, pid: int) -> tuple[CgroupNode, CgroupProcess] | None:
        """The cgroup a PID is printed in, with the process."""
        for n in self.root.walk():
            for p in n.processes:
                if p.pid == pid:
                    return n, p
        return None


@dataclass
class _Draft:
    path: str
    cgroup_id: int | None = None
    processes: list[CgroupProcess] = field(default_factory=list)
    children: list[_Draft] = field(default_factory=list)

    def freeze(self) -> CgroupNode:
        return CgroupNode(
            self.path,
            self.cgroup_id,
            tuple(self.processes),
            tuple(c.freeze() for c in self.children),
        )


def _join(parent: str, name: str) -> str:
    return parent.rstrip("/") + "/" + name


def _process(text: str) -> CgroupProcess | None:
    m = _PROCESS.match(text)
    if not m:
        return None
    cmdline = m["cmdline"].rstrip()
    truncated = False
    for ellipsis in _ELLIPSES:
        if cmdline.endswith(ellipsis):
            cmdline, truncated = cmdline[: -len(ellipsis)].rstrip(), True
            break
    return CgroupProcess(int(m["pid"]), cmdline, truncated)


def parse_cgls(text: str, root_path: str = "/") -> CgroupTree:
    """Parse systemd-cgls output into a tree rooted at the header's path or ``root_path``.

    Raises ValueError on a line that is neither header, root label, xattr nor tree line,
    so a format the spec does not know fails loudly instead of parsing to nothing.
    """
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    if lines:
        header = _HEADER.match(lines[0].strip())
        if header:
            root_path = header["path"]
            lines = lines[1:]
    root = _Draft(root_path)
    stack: list[_Draft] = [root]  # stack[k] = the node whose children are at level k
    last_owner: _Draft | None = None  # the node of the process printed on the line before
    for i, line in enumerate(lines):
        if _XATTR.match(line):
            continue
        m = _BRANCH.match(line)
        if m is None:
            if i == 0 and not line.startswith(" "):
                continue  # root label such as "-.slice" printed by systemd 252
            if last_owner is not None:
                # A command line with a newline in an argument (sh -c 'a\nb') goes on
                # unindented on the next line.
                prev = last_owner.processes.pop()
                last_owner.processes.append(
                    CgroupProcess(prev.pid, prev.cmdline + "\n" + line, prev.truncated))
                continue
            raise ValueError(f"not a systemd-cgls tree line: {line!r}")
        level = len(m["indent"]) // 2
        if level >= len(stack):
            raise ValueError(f"tree line deeper than its parent: {line!r}")
        parent = stack[level]
        proc = _process(m["rest"])
        last_owner = parent if proc is not None else None
        if proc is not None:
            parent.processes.append(proc)
            continue
        nm = _NODE.match(m["rest"])
        if nm is None:
            raise ValueError(f"not a cgroup or process: {line!r}")
        node = _Draft(_join(parent.path, nm["name"]), int(nm["id"]) if nm["id"] else None)
        parent.children.append(node)
        del stack[level + 1 :]
        stack.append(node)
    return CgroupTree(root.freeze())
