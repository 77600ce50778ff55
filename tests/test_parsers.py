# ruff: noqa: E501  (the samples are verbatim, long lines included)
"""The spec's output parsers against the document's own samples and systemd 252's.

The samples are copied verbatim: DOC_* from "Using rkt with systemd", R252_* from the
captures of the real rkt 1.30 on Debian 12 (systemd 252, cgroup v2).
"""

from __future__ import annotations

import re

import pytest

from steps.parse import (
    env_block,
    is_nspawn,
    is_rkt,
    parse_cgls,
    parse_journal,
    parse_machinectl_list,
    parse_ps_auxf,
    parse_ps_eo,
    parse_rkt_image_list,
    parse_rkt_list,
    parse_rkt_status,
    parse_systemctl_show,
    parse_systemctl_status,
    parse_systemd_run,
)

# fmt: off
# Document: systemd-run's announcement.
DOC_SYSTEMD_RUN = r"""
Running as unit run-29486.service.
"""

# Document: systemctl status run-29486.service.
DOC_STATUS = r"""
● run-29486.service - /bin/rkt run coreos.com/etcd:v2.2.5
   Loaded: loaded (/run/systemd/system/run-29486.service; static; vendor preset: disabled)
  Drop-In: /run/systemd/system/run-29486.service.d
           └─50-Description.conf, 50-ExecStart.conf, 50-Slice.conf
   Active: active (running) since Wed 2016-02-24 12:50:20 CET; 27s ago
 Main PID: 29487 (ld-linux-x86-64)
   Memory: 36.1M
      CPU: 1.467s
   CGroup: /machine.slice/run-29486.service
           ├─29487 stage1/rootfs/usr/lib/ld-linux-x86-64.so.2 stage1/rootfs/usr/bin/systemd-nspawn --boot -Zsystem_u:system_r:svirt_lxc_net_t:s0:c46...
           ├─29535 /usr/lib/systemd/systemd --default-standard-output=tty --log-target=null --log-level=warning --show-status=0
           └─system.slice
             ├─etcd.service
             │ └─29544 /etcd
             └─systemd-journald.service
               └─29539 /usr/lib/systemd/systemd-journald
"""

# Document: machinectl list with one pod.
DOC_MACHINES = r"""
MACHINE                                  CLASS     SERVICE
rkt-2b0b2cec-8f63-4451-9431-9f8e9b265a23 container nspawn

1 machines listed.
"""

# Document: journalctl -M rkt-2b0b2cec-… (after its '...').
DOC_JOURNAL = r"""
Feb 24 12:50:22 rkt-2b0b2cec-8f63-4451-9431-9f8e9b265a23 etcd[4]: 2016-02-24 11:50:22.518030 I | raft: ce2a822cea30bfca received vote from ce2a822cea30bfca at term 2
Feb 24 12:50:22 rkt-2b0b2cec-8f63-4451-9431-9f8e9b265a23 etcd[4]: 2016-02-24 11:50:22.518073 I | raft: ce2a822cea30bfca became leader at term 2
Feb 24 12:50:22 rkt-2b0b2cec-8f63-4451-9431-9f8e9b265a23 etcd[4]: 2016-02-24 11:50:22.518086 I | raft: raft.node: ce2a822cea30bfca elected leader ce2a822cea30bfca at te
Feb 24 12:50:22 rkt-2b0b2cec-8f63-4451-9431-9f8e9b265a23 etcd[4]: 2016-02-24 11:50:22.518720 I | etcdserver: published {Name:default ClientURLs:[http://localhost:2379 h
Feb 24 12:50:22 rkt-2b0b2cec-8f63-4451-9431-9f8e9b265a23 etcd[4]: 2016-02-24 11:50:22.518955 I | etcdserver: setting up the initial cluster version to 2.2
Feb 24 12:50:22 rkt-2b0b2cec-8f63-4451-9431-9f8e9b265a23 etcd[4]: 2016-02-24 11:50:22.521680 N | etcdserver: set the initial cluster version to 2.2
"""

# Document: machinectl list after poweroff.
DOC_MACHINES_EMPTY = r"""
MACHINE CLASS SERVICE

0 machines listed.
"""

# Document: systemctl status my-socket-activated-app.socket.
DOC_SOCKET_STATUS = r"""
● my-socket-activated-app.socket - My socket-activated app's socket
   Loaded: loaded (/etc/systemd/system/my-socket-activated-app.socket; static; vendor preset: disabled)
   Active: active (listening) since Thu 2015-07-30 12:24:50 CEST; 2s ago
   Listen: [::]:8080 (Stream)

Jul 30 12:24:50 locke-work systemd[1]: Listening on My socket-activated app's socket.
"""

# Document: status of proxy-to-rkt-redis.socket.
DOC_PROXY_SOCKET_STATUS = r"""
● proxy-to-rkt-redis.socket
   Loaded: loaded (/etc/systemd/system/proxy-to-rkt-redis.socket; enabled; vendor preset: disabled)
   Active: active (listening) since Mon 2016-03-07 11:53:32 CET; 8s ago
   Listen: [::]:6371 (Stream)

Mar 07 11:53:32 user-host systemd[1]: Listening on proxy-to-rkt-redis.socket.
Mar 07 11:53:32 user-host systemd[1]: Starting proxy-to-rkt-redis.socket.
"""

# Document: ps auxf.
DOC_PS_AUXF = r"""
USER       PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root      7258  0.2  0.0  19680  2664 ?        Ss   12:38   0:02 stage1/rootfs/usr/lib/ld-linux-x86-64.so.2 stage1/rootfs/usr/bin/systemd-nspawn --boot --register=true --link-journal=try-guest --quiet --keep-unit --uuid=6d0d9608-a744-4333-be21-942145a97a5a --machine=rkt-6d0d9608-a744-4333-be21-942145a97a5a --directory=stage1/rootfs -- --default-standard-output=tty --log-target=null --log-level=warning --show-status=0
root      7275  0.0  0.0  27348  4316 ?        Ss   12:38   0:00  \_ /usr/lib/systemd/systemd --default-standard-output=tty --log-target=null --log-level=warning --show-status=0
root      7277  0.0  0.0  23832  6100 ?        Ss   12:38   0:00      \_ /usr/lib/systemd/systemd-journald
root      7343  0.3  0.0  10652  7332 ?        Ssl  12:38   0:04      \_ /etcd
"""

# Document: systemd-cgls.
DOC_CGLS = r"""
├─1 /usr/lib/systemd/systemd --switched-root --system --deserialize 22
├─machine.slice
│ └─etcd.service
│   ├─1204 stage1/rootfs/usr/lib/ld-linux-x86-64.so.2 stage1/rootfs/usr/bin/s...
│   ├─1421 /usr/lib/systemd/systemd --default-standard-output=tty --log-targe...
│   └─system.slice
│     ├─etcd.service
│     │ └─1436 /etcd
│     └─systemd-journald.service
│       └─1428 /usr/lib/systemd/systemd-journald
"""

# Document: systemd-cgls --all.
DOC_CGLS_ALL = r"""
├─1 /usr/lib/systemd/systemd --switched-root --system --deserialize 22
├─machine.slice
│ └─etcd.service
│   ├─1204 stage1/rootfs/usr/lib/ld-linux-x86-64.so.2 stage1/rootfs/usr/bin/s...
│   ├─1421 /usr/lib/systemd/systemd --default-standard-output=tty --log-targe...
│   └─system.slice
│     ├─proc-sys-kernel-random-boot_id.mount
│     ├─opt-stage2-etcd-rootfs-proc-kmsg.mount
│     ├─opt-stage2-etcd-rootfs-sys.mount
│     ├─opt-stage2-etcd-rootfs-dev-shm.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup-perf_event.mount
│     ├─etcd.service
│     │ └─1436 /etcd
│     ├─opt-stage2-etcd-rootfs-proc-sys-kernel-random-boot_id.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup-cpu\x2ccpuacct.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup-devices.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup-freezer.mount
│     ├─shutdown.service
│     ├─-.mount
│     ├─opt-stage2-etcd-rootfs-data\x2ddir.mount
│     ├─system-prepare\x2dapp.slice
│     ├─tmp.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup-cpuset.mount
│     ├─opt-stage2-etcd-rootfs-proc.mount
│     ├─systemd-journald.service
│     │ └─1428 /usr/lib/systemd/systemd-journald
│     ├─opt-stage2-etcd-rootfs.mount
│     ├─opt-stage2-etcd-rootfs-dev-random.mount
│     ├─opt-stage2-etcd-rootfs-dev-pts.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup.mount
│     ├─run-systemd-nspawn-incoming.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup-systemd-machine.slice-etcd.service.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup-memory-machine.slice-etcd.service-system.slice-etcd.service-cgroup.procs.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup-blkio.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup-net_cls\x2cnet_prio.mount
│     ├─opt-stage2-etcd-rootfs-dev-net-tun.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup-memory-machine.slice-etcd.service-system.slice-etcd.service-memory.limit_in_bytes.mount
│     ├─opt-stage2-etcd-rootfs-dev-tty.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup-pids.mount
│     ├─reaper-etcd.service
│     ├─opt-stage2-etcd-rootfs-sys-fs-selinux.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup-memory.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup-cpu\x2ccpuacct-machine.slice-etcd.service-system.slice-etcd.service-cpu.cfs_quota_us.mount
│     ├─opt-stage2-etcd-rootfs-dev-urandom.mount
│     ├─opt-stage2-etcd-rootfs-dev-zero.mount
│     ├─opt-stage2-etcd-rootfs-dev-null.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup-systemd.mount
│     ├─opt-stage2-etcd-rootfs-dev-console.mount
│     ├─opt-stage2-etcd-rootfs-dev-full.mount
│     ├─opt-stage2-etcd-rootfs-sys-fs-cgroup-cpu\x2ccpuacct-machine.slice-etcd.service-system.slice-etcd.service-cgroup.procs.mount
│     ├─opt-stage2-etcd-rootfs-proc-sys.mount
│     └─opt-stage2-etcd-rootfs-sys-fs-cgroup-hugetlb.mount
"""

# systemd 252: status of the transient unit whose etcd died of SIGSYS.
R252_STATUS_FAILED = r"""
× run-rea445d346ba44e04813112850cc05ad3.service - /usr/bin/rkt run coreos.com/etcd:v2.2.5
     Loaded: loaded (/run/systemd/transient/run-rea445d346ba44e04813112850cc05ad3.service; transient)
  Transient: yes
     Active: failed (Result: exit-code) since Sat 2026-11-28 22:11:23 UTC; 4min 4s ago
   Duration: 57.393s
    Process: 323 ExecStart=/usr/bin/rkt run coreos.com/etcd:v2.2.5 (code=exited, status=31)
   Main PID: 323 (code=exited, status=31)
        CPU: 55.489s

Nov 28 22:10:26 rktvm systemd[1]: Started run-rea445d346ba44e04813112850cc05ad3.service - /usr/bin/rkt run coreos.com/etcd:v2.2.5.
Nov 28 22:11:07 rktvm rkt[323]: stage1: warning: no volume specified for mount point "data-dir", implicitly creating an "empty" volume. This volume will be removed when the pod is garbage-collected.
Nov 28 22:11:20 rktvm rkt[323]: stage1: warning: no volume specified for mount point "data-dir", implicitly creating an "empty" volume. This volume will be removed when the pod is garbage-collected.
Nov 28 22:11:23 rktvm systemd[1]: run-rea445d346ba44e04813112850cc05ad3.service: Main process exited, code=exited, status=31/n/a
Nov 28 22:11:23 rktvm systemd[1]: run-rea445d346ba44e04813112850cc05ad3.service: Failed with result 'exit-code'.
"""

# systemd 252: machinectl list with one pod.
R252_MACHINES = r"""
MACHINE                                  CLASS     SERVICE OS VERSION ADDRESSES
rkt-56c007f8-578b-4e7b-8984-078d7a65d15e container rkt     -  -       172.16.28.2…

1 machines listed.
"""

# systemd 252: journalctl -M rkt-56c007f8-… | tail -30.
R252_JOURNAL = r"""
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: raft2026/11/28 22:16:37 INFO: 8e9e05c52164694d became follower at term 0
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: member dir = /var/lib/etcd/member
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: raft2026/11/28 22:16:37 INFO: newRaft 8e9e05c52164694d [peers: [], term: 0, commit: 0, applied: 0, lastindex: 0, lastterm: 0]
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: election = 1000ms
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: raft2026/11/28 22:16:37 INFO: 8e9e05c52164694d became follower at term 1
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: snapshot count = 100000
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: raft2026/11/28 22:16:37 INFO: 8e9e05c52164694d switched to configuration voters=(10276657743932975437)
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: advertise client URLs = http://localhost:2379
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: starting server... [version: 3.4.23, cluster version: to_be_decided]
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: check file permission: directory "/var/lib/etcd" exist, but the permission is "drwxr-xr-x". The recommended permission is "-rwx------" to prevent possible unprivileged access to the data.
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: started to purge file, dir: /var/lib/etcd/member/snap, suffix: snap.db, max: 5, interval: 30s
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: starting member 8e9e05c52164694d in cluster cdf818194e3a8c32
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: started to purge file, dir: /var/lib/etcd/member/snap, suffix: snap, max: 5, interval: 30s
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: simple token is not cryptographically signed
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: started to purge file, dir: /var/lib/etcd/member/wal, suffix: wal, max: 5, interval: 30s
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: 8e9e05c52164694d as single-node; fast-forwarding 9 ticks (election ticks 10)
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: listening for peers on 127.0.0.1:2380
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: raft2026/11/28 22:16:37 INFO: 8e9e05c52164694d switched to configuration voters=(10276657743932975437)
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: serving insecure client requests on 127.0.0.1:2379, this is strongly discouraged!
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: added member 8e9e05c52164694d [http://localhost:2380] to cluster cdf818194e3a8c32
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: raft2026/11/28 22:16:37 INFO: 8e9e05c52164694d is starting a new election at term 1
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: raft2026/11/28 22:16:37 INFO: 8e9e05c52164694d became candidate at term 2
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: raft2026/11/28 22:16:37 INFO: 8e9e05c52164694d received MsgVoteResp from 8e9e05c52164694d at term 2
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: raft2026/11/28 22:16:37 INFO: 8e9e05c52164694d became leader at term 2
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: raft2026/11/28 22:16:37 INFO: raft.node: 8e9e05c52164694d elected leader 8e9e05c52164694d at term 2
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: setting up the initial cluster version to 3.4
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: set the initial cluster version to 3.4
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: published {Name:default ClientURLs:[http://localhost:2379]} to cluster cdf818194e3a8c32
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: ready to serve client requests
Nov 28 22:16:37 rkt-56c007f8-578b-4e7b-8984-078d7a65d15e etcd[7]: enabled capabilities for version 3.4
"""

# systemd 252: ps auxf | grep -B1 -A8 systemd-nspawn (machined first).
R252_PS = r"""
root         299  0.4  0.3  16572  7476 ?        Ss   22:09   0:01 /lib/systemd/systemd-machined
root        3140 42.1  0.3  16680  6904 ?        Ss   22:16   0:18 /usr/bin/systemd-nspawn --boot --register=true --notify-ready=yes --link-journal=try-guest --keep-unit --quiet --uuid=56c007f8-578b-4e7b-8984-078d7a65d15e --machine=rkt-56c007f8-578b-4e7b-8984-078d7a65d15e --directory=stage1/rootfs --bind=/var/lib/rkt/pods/run/56c007f8-578b-4e7b-8984-078d7a65d15e/sharedVolumes/etcd-data-dir:/opt/stage2/etcd/rootfs/var/lib/etcd:rbind --capability=CAP_AUDIT_WRITE,CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FSETID,CAP_FOWNER,CAP_KILL,CAP_MKNOD,CAP_NET_RAW,CAP_NET_BIND_SERVICE,CAP_SETUID,CAP_SETGID,CAP_SETPCAP,CAP_SETFCAP,CAP_SYS_CHROOT -- --default-standard-output=tty --log-target=null --show-status=0
root        4029 10.9  0.5  18908 10508 ?        Ss   22:16   0:01  \_ /usr/lib/systemd/systemd --default-standard-output=tty --log-target=null --show-status=0
root        4044  3.0  0.3  21568  7564 ?        Ss   22:16   0:00      \_ /lib/systemd/systemd-journald
root        4047  2.3  0.3  21568  7164 ?        Ss   22:16   0:00      \_ /lib/systemd/systemd-journald
root        4053 19.8  1.3 11737656 26732 ?      Ssl  22:16   0:01      \_ /etcd --data-dir=/var/lib/etcd
"""

# systemd 252: systemd-cgls --no-pager /machine.slice.
R252_CGLS = r"""
Control group /machine.slice:
└─run-r144d1424cd284fdf99472afb3cdf38ac.service (#2112)
  → user.invocation_id: 88c470eed73c42809ff770115949c0e6
  → trusted.invocation_id: 88c470eed73c42809ff770115949c0e6
  ├─payload (#2149)
  │ ├─init.scope (#2223)
  │ │ └─4029 /usr/lib/systemd/systemd --default-standard-output=tty --log-target=null --show-status=0
  │ └─system.slice (#2260)
  │   ├─systemd-journal-flush.service (#2334)
  │   │ → user.invocation_id: 19e7832ce957436db34df995d65fa374
  │   │ → trusted.invocation_id: 19e7832ce957436db34df995d65fa374
  │   │ └─4044 /lib/systemd/systemd-journald
  │   ├─systemd-journald.service (#2371)
  │   │ → user.invocation_id: 01ac87e06587486999d7ffdcbad0215e
  │   │ → trusted.invocation_id: 01ac87e06587486999d7ffdcbad0215e
  │   │ └─4047 /lib/systemd/systemd-journald
  │   └─etcd.service (#2482)
  │     → user.invocation_id: 77373850573d41469717e625859c70e5
  │     → trusted.invocation_id: 77373850573d41469717e625859c70e5
  │     └─4053 /etcd --data-dir=/var/lib/etcd
  └─supervisor (#2166)
    └─3140 /usr/bin/systemd-nspawn --boot --register=true --notify-ready=yes --link-journal=try-guest --keep-unit --quiet --uuid=56c007f8-578b-4e7b-8984-078d7a65d15e --machine=rkt-56c007f8-578b-4e7b-8984-078d7a65d15e --directory=stage1/rootfs --bind=/var/lib/rkt/pods/run/56c007f8-578b-4e7b-8984-078…
"""

# systemd 252: systemd-cgls --all --no-pager /machine.slice.
R252_CGLS_ALL = r"""
Control group /machine.slice:
└─run-r144d1424cd284fdf99472afb3cdf38ac.service (#2112)
  → user.invocation_id: 88c470eed73c42809ff770115949c0e6
  → trusted.invocation_id: 88c470eed73c42809ff770115949c0e6
  ├─payload (#2149)
  │ ├─init.scope (#2223)
  │ │ └─4029 /usr/lib/systemd/systemd --default-standard-output=tty --log-target=null --show-status=0
  │ └─system.slice (#2260)
  │   ├─systemd-journal-flush.service (#2334)
  │   │ → user.invocation_id: 19e7832ce957436db34df995d65fa374
  │   │ → trusted.invocation_id: 19e7832ce957436db34df995d65fa374
  │   │ └─4044 /lib/systemd/systemd-journald
  │   ├─systemd-journald.service (#2371)
  │   │ → user.invocation_id: 01ac87e06587486999d7ffdcbad0215e
  │   │ → trusted.invocation_id: 01ac87e06587486999d7ffdcbad0215e
  │   │ └─4047 /lib/systemd/systemd-journald
  │   ├─etcd.service (#2482)
  │   │ → user.invocation_id: 77373850573d41469717e625859c70e5
  │   │ → trusted.invocation_id: 77373850573d41469717e625859c70e5
  │   │ └─4053 /etcd --data-dir=/var/lib/etcd
  │   └─system-prepare\x2dapp.slice (#2297)
  │     → user.invocation_id: 26db9fb4c475495f9cc02dbd36e99b09
  │     → trusted.invocation_id: 26db9fb4c475495f9cc02dbd36e99b09
  └─supervisor (#2166)
    └─3140 /usr/bin/systemd-nspawn --boot --register=true --notify-ready=yes --link-journal=try-guest --keep-unit --quiet --uuid=56c007f8-578b-4e7b-8984-078d7a65d15e --machine=rkt-56c007f8-578b-4e7b-8984-078d7a65d15e --directory=stage1/rootfs --bind=/var/lib/rkt/pods/run/56c007f8-578b-4e7b-8984-078…
"""

# rkt 1.30: rkt list.
R252_RKT_LIST = r"""
UUID		APP	IMAGE NAME		STATE	CREATED		STARTED		NETWORKS
56c007f8	etcd	coreos.com/etcd:v2.2.5	running	31 seconds ago	15 seconds ago	default:ip4=172.16.28.2
"""

# rkt 1.30: rkt list --full.
R252_RKT_LIST_FULL = r"""
UUID					APP	IMAGE NAME		IMAGE ID		STATE	CREATED					STARTED					NETWORKS
56c007f8-578b-4e7b-8984-078d7a65d15e	etcd	coreos.com/etcd:v2.2.5	sha512-a7733ba3efd0	running	2026-11-28 22:16:18.116 +0000 UTC	2026-11-28 22:16:34.108 +0000 UTC	default:ip4=172.16.28.2
"""

# systemd 252: machinectl list, empty.
R252_NO_MACHINES = r"""
No machines.
"""

# rkt 1.30: rkt list after ExecStopPost=rkt gc --mark-only.
R252_RKT_LIST_GARBAGE = r"""
UUID		APP		IMAGE NAME			STATE		CREATED		STARTED		NETWORKS
41b461b8	etcd		coreos.com/etcd:v2.2.5		exited garbage	2 minutes ago	2 minutes ago	default:ip4=172.16.28.4
56c007f8	etcd		coreos.com/etcd:v2.2.5		exited garbage	5 minutes ago	4 minutes ago	default:ip4=172.16.28.2
5fa9ef1a	etcd		coreos.com/etcd:v2.2.5		exited garbage	1 minute ago	1 minute ago	default:ip4=172.16.28.6
7dab62a4	etcd		coreos.com/etcd:v2.2.5		exited garbage	3 minutes ago	3 minutes ago	default:ip4=172.16.28.3
918cf063	myapp-1-3-4	myapp.com/myapp-1.3.4:1.3.4	exited garbage	27 seconds ago	10 seconds ago	default:ip4=172.16.28.7
92c8a2da	etcd		coreos.com/etcd:v2.2.5		exited garbage	2 minutes ago	1 minute ago	default:ip4=172.16.28.5
"""

# rkt 1.30: rkt image list.
R252_IMAGE_LIST = r"""
ID			NAME						SIZE	IMPORT TIME	LAST USED
sha512-a7733ba3efd0	coreos.com/etcd:v2.2.5				45MiB	7 minutes ago	7 minutes ago
sha512-77d54fda5cde	myapp.com/myapp-1.3.4:1.3.4			3.8MiB	1 minute ago	1 minute ago
sha512-c6963ca306c1	coreos.com/rkt/stage1-host:1.30.0+git-dirty	80MiB	32 seconds ago	32 seconds ago
"""

# systemd 252: systemctl status etcd.service (simple unit).
R252_STATUS_ETCD = r"""
● etcd.service - etcd
     Loaded: loaded (/etc/systemd/system/etcd.service; static)
     Active: active (running) since Sat 2026-11-28 22:17:18 UTC; 37s ago
   Main PID: 4248 (systemd-nspawn)
      Tasks: 12 (limit: 2361)
     Memory: 128.3M
        CPU: 35.114s
     CGroup: /machine.slice/etcd.service
             ├─payload
             │ ├─init.scope
             │ │ └─5131 /usr/lib/systemd/systemd --default-standard-output=tty --log-target=null --show-status=0
             │ └─system.slice
             │   ├─etcd.service
             │   │ └─5155 /etcd --data-dir=/var/lib/etcd
             │   ├─systemd-journal-flush.service
             │   │ └─5146 /lib/systemd/systemd-journald
             │   └─systemd-journald.service
             │     └─5147 /lib/systemd/systemd-journald
             └─supervisor
               └─4248 /usr/bin/systemd-nspawn --boot --register=true --notify-ready=yes --link-journal=try-guest --keep-unit --quiet --uuid=7dab62a4-85ab-4a38-ac2b-449db63bd7dc --machine=rkt-7dab62a4-85ab-4a38-ac2b-449db63bd7dc --directory=stage1/rootfs --bind=/var/lib/rkt/pods/run/7dab62a4-85ab-4a38-ac2b-449db63bd7dc/sharedVolumes/etcd-data-dir:/opt/stage2/etcd/rootfs/var/lib/etcd:rbind --capability=CAP_AUDIT_WRITE,CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FSETID,CAP_FOWNER,CAP_KILL,CAP_MKNOD,CAP_NET_RAW,CAP_NET_BIND_SERVICE,CAP_SETUID,CAP_SETGID,CAP_SETPCAP,CAP_SETFCAP,CAP_SYS_CHROOT -- --default-standard-output=tty --log-target=null --show-status=0

Nov 28 22:17:54 rktvm rkt[4248]: [  488.286332] etcd[7]: raft2026/11/28 22:17:54 INFO: 8e9e05c52164694d became follower at term 0
Nov 28 22:17:54 rktvm rkt[4248]: [  488.289202] etcd[7]: raft2026/11/28 22:17:54 INFO: newRaft 8e9e05c52164694d [peers: [], term: 0, commit: 0, applied: 0, lastindex: 0, lastterm: 0]
Nov 28 22:17:54 rktvm rkt[4248]: [  488.293440] etcd[7]: raft2026/11/28 22:17:54 INFO: 8e9e05c52164694d became follower at term 1
Nov 28 22:17:54 rktvm rkt[4248]: [  488.300899] etcd[7]: raft2026/11/28 22:17:54 INFO: 8e9e05c52164694d switched to configuration voters=(10276657743932975437)
Nov 28 22:17:54 rktvm rkt[4248]: [  488.419276] etcd[7]: raft2026/11/28 22:17:54 INFO: 8e9e05c52164694d switched to configuration voters=(10276657743932975437)
Nov 28 22:17:55 rktvm rkt[4248]: [  489.062680] etcd[7]: raft2026/11/28 22:17:55 INFO: 8e9e05c52164694d is starting a new election at term 1
Nov 28 22:17:55 rktvm rkt[4248]: [  489.077592] etcd[7]: raft2026/11/28 22:17:55 INFO: 8e9e05c52164694d became candidate at term 2
Nov 28 22:17:55 rktvm rkt[4248]: [  489.079169] etcd[7]: raft2026/11/28 22:17:55 INFO: 8e9e05c52164694d received MsgVoteResp from 8e9e05c52164694d at term 2
Nov 28 22:17:55 rktvm rkt[4248]: [  489.079914] etcd[7]: raft2026/11/28 22:17:55 INFO: 8e9e05c52164694d became leader at term 2
Nov 28 22:17:55 rktvm rkt[4248]: [  489.082438] etcd[7]: raft2026/11/28 22:17:55 INFO: raft.node: 8e9e05c52164694d elected leader 8e9e05c52164694d at term 2
"""

# systemd 252: systemctl status etcd.service after stop.
R252_STATUS_STOPPED = r"""
○ etcd.service - etcd
     Loaded: loaded (/etc/systemd/system/etcd.service; static)
     Active: inactive (dead)

Nov 28 22:18:01 rktvm systemd[1]: Stopping etcd.service - etcd...
Nov 28 22:18:02 rktvm systemd[1]: etcd.service: Deactivated successfully.
Nov 28 22:18:02 rktvm systemd[1]: Stopped etcd.service - etcd.
Nov 28 22:18:02 rktvm systemd[1]: etcd.service: Consumed 36.440s CPU time.
"""

# systemd 252: systemctl status myapp.service (advanced unit).
R252_STATUS_MYAPP = r"""
● myapp.service - MyApp
     Loaded: loaded (/etc/systemd/system/myapp.service; static)
     Active: active (running) since Sat 2026-11-28 22:20:44 UTC; 36s ago
       Docs: https://myapp.com/docs/1.3.4
    Process: 8263 ExecStartPre=/usr/bin/rkt --insecure-options=image fetch /srv/aci/myapp.aci (code=exited, status=0/SUCCESS)
   Main PID: 8276 (systemd-nspawn)
      Tasks: 6 (limit: 2361)
     Memory: 124.3M (limit: 1.0G)
        CPU: 38.219s
     CGroup: /machine.slice/myapp.service
             ├─payload
             │ ├─init.scope
             │ │ └─9010 /usr/lib/systemd/systemd --default-standard-output=tty --log-target=null --show-status=0
             │ └─system.slice
             │   ├─myapp-1-3-4.service
             │   │ ├─9032 /bin/sh -c "echo MYAPP-ENV-BEGIN; env | sort; echo MYAPP-ENV-END; trap 'echo MYAPP-GOT-SIGTERM; exit 0' TERM; while true; do sleep 1; done"
             │   │ └─9042 sleep 1
             │   ├─systemd-journal-flush.service
             │   │ └─9022 /lib/systemd/systemd-journald
             │   └─systemd-journald.service
             │     └─9023 /lib/systemd/systemd-journald
             └─supervisor
               └─8276 /usr/bin/systemd-nspawn --boot --register=true --notify-ready=yes --link-journal=try-guest --keep-unit --quiet --uuid=918cf063-24bc-4f41-9f0c-3ba19412a4ce --machine=rkt-918cf063-24bc-4f41-9f0c-3ba19412a4ce --directory=stage1/rootfs --capability=CAP_AUDIT_WRITE,CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FSETID,CAP_FOWNER,CAP_KILL,CAP_MKNOD,CAP_NET_RAW,CAP_NET_BIND_SERVICE,CAP_SETUID,CAP_SETGID,CAP_SETPCAP,CAP_SETFCAP,CAP_SYS_CHROOT -- --default-standard-output=tty --log-target=null --show-status=0

Nov 28 22:21:21 rktvm rkt[8276]: [  695.173511] myapp-1-3-4[13]: PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
Nov 28 22:21:21 rktvm rkt[8276]: [  695.175464] myapp-1-3-4[13]: PWD=/
Nov 28 22:21:21 rktvm rkt[8276]: [  695.178003] myapp-1-3-4[13]: SHELL=/bin/sh
Nov 28 22:21:21 rktvm rkt[8276]: [  695.180432] myapp-1-3-4[13]: SHLVL=1
Nov 28 22:21:21 rktvm rkt[8276]: [  695.182485] myapp-1-3-4[13]: STORAGE_PATH=/opt/myapp
Nov 28 22:21:21 rktvm rkt[8276]: [  695.184685] myapp-1-3-4[13]: SYSTEMD_EXEC_PID=8276
Nov 28 22:21:21 rktvm rkt[8276]: [  695.186540] myapp-1-3-4[13]: TERM=vt220
Nov 28 22:21:21 rktvm rkt[8276]: [  695.188504] myapp-1-3-4[13]: TMPDIR=/var/tmp
Nov 28 22:21:21 rktvm rkt[8276]: [  695.190612] myapp-1-3-4[13]: USER=root
Nov 28 22:21:21 rktvm rkt[8276]: [  695.193504] myapp-1-3-4[7]: MYAPP-ENV-END
"""

# rkt 1.30: the myapp stand-in's env, console-forwarded into the unit's journal.
R252_APP_ENV = r"""
[  695.114271] myapp-1-3-4[7]: MYAPP-ENV-BEGIN
[  695.150655] myapp-1-3-4[13]: AC_APP_NAME=myapp-1-3-4
[  695.153790] myapp-1-3-4[13]: HOME=/root
[  695.156558] myapp-1-3-4[13]: HTTP_PROXY=192.0.2.3:5000
[  695.158588] myapp-1-3-4[13]: INVOCATION_ID=ecbf4ab7ad964732bd8432eeb540a137
[  695.163110] myapp-1-3-4[13]: JOURNAL_STREAM=8:29188
[  695.168825] myapp-1-3-4[13]: LANG=C.UTF-8
[  695.171178] myapp-1-3-4[13]: LOGNAME=root
[  695.173511] myapp-1-3-4[13]: PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
[  695.175464] myapp-1-3-4[13]: PWD=/
[  695.178003] myapp-1-3-4[13]: SHELL=/bin/sh
[  695.180432] myapp-1-3-4[13]: SHLVL=1
[  695.182485] myapp-1-3-4[13]: STORAGE_PATH=/opt/myapp
[  695.184685] myapp-1-3-4[13]: SYSTEMD_EXEC_PID=8276
[  695.186540] myapp-1-3-4[13]: TERM=vt220
[  695.188504] myapp-1-3-4[13]: TMPDIR=/var/tmp
[  695.190612] myapp-1-3-4[13]: USER=root
[  695.193504] myapp-1-3-4[7]: MYAPP-ENV-END
"""

# fmt: on


# --- systemd-run -----------------------------------------------------------------------


def test_systemd_run_document_form() -> None:
    ran = parse_systemd_run(DOC_SYSTEMD_RUN)
    assert ran.unit == "run-29486.service"
    assert not ran.with_colon


def test_systemd_run_252_form() -> None:
    ran = parse_systemd_run("Running as unit: run-rea445d346ba44e04813112850cc05ad3.service\n")
    assert ran.unit == "run-rea445d346ba44e04813112850cc05ad3.service"
    assert ran.with_colon


def test_systemd_run_without_announcement_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_systemd_run("Failed to start transient service unit: Access denied\n")


# --- systemctl status --------------------------------------------------------------------


def test_status_document_transient_unit() -> None:
    st = parse_systemctl_status(DOC_STATUS)
    assert (st.bullet, st.unit) == ("●", "run-29486.service")
    assert st.description == "/bin/rkt run coreos.com/etcd:v2.2.5"
    assert st.loaded is not None
    assert st.loaded.state == "loaded"
    assert st.loaded.path == "/run/systemd/system/run-29486.service"
    assert st.loaded.enablement == "static"
    assert st.loaded.preset == "disabled"
    assert st.field_lines("Drop-In") == (
        "/run/systemd/system/run-29486.service.d",
        "└─50-Description.conf, 50-ExecStart.conf, 50-Slice.conf",
    )
    assert st.active is not None
    assert (st.active.state, st.active.substate) == ("active", "running")
    assert st.active.since == "Wed 2016-02-24 12:50:20 CET"
    assert st.main_pid is not None
    assert (st.main_pid.pid, st.main_pid.comm) == (29487, "ld-linux-x86-64")
    assert st.field("Memory") == "36.1M"
    assert st.cgroup_path == "/machine.slice/run-29486.service"
    assert st.cgroup is not None
    unit = st.cgroup.root
    assert [p.pid for p in unit.processes] == [29487, 29535]
    assert unit.processes[0].truncated
    assert unit.relative_paths() == (
        "system.slice",
        "system.slice/etcd.service",
        "system.slice/systemd-journald.service",
    )
    etcd = st.cgroup.node("/machine.slice/run-29486.service/system.slice/etcd.service")
    assert etcd is not None
    assert [p.argv for p in etcd.processes] == [("/etcd",)]


def test_status_252_running_simple_unit() -> None:
    st = parse_systemctl_status(R252_STATUS_ETCD)
    assert (st.bullet, st.unit, st.description) == ("●", "etcd.service", "etcd")
    assert st.loaded is not None
    assert (st.loaded.path, st.loaded.enablement, st.loaded.preset) == (
        "/etc/systemd/system/etcd.service", "static", None)
    assert st.active is not None
    assert (st.active.state, st.active.substate) == ("active", "running")
    assert st.main_pid is not None
    assert (st.main_pid.pid, st.main_pid.comm) == (4248, "systemd-nspawn")
    assert st.field("Tasks") == "12 (limit: 2361)"
    assert st.cgroup is not None
    root = st.cgroup.root
    assert root.path == "/machine.slice/etcd.service"
    assert [c.name for c in root.children] == ["payload", "supervisor"]
    init = root.find("payload/init.scope")
    assert init is not None
    assert init.processes[0].argv == (
        "/usr/lib/systemd/systemd", "--default-standard-output=tty", "--log-target=null",
        "--show-status=0")
    app = root.find("payload/system.slice/etcd.service")
    assert app is not None
    assert app.processes[0].argv == ("/etcd", "--data-dir=/var/lib/etcd")
    sup = root.find("supervisor")
    assert sup is not None
    assert sup.processes[0].pid == 4248
    assert not sup.processes[0].truncated
    assert sup.processes[0].argv[-4:] == (
        "--", "--default-standard-output=tty", "--log-target=null", "--show-status=0")


def test_status_252_stopped_unit_has_no_main_pid() -> None:
    st = parse_systemctl_status(R252_STATUS_STOPPED)
    assert st.bullet == "○"
    assert st.active is not None
    assert (st.active.state, st.active.substate, st.active.since) == ("inactive", "dead", None)
    assert st.main_pid is None
    assert st.cgroup is None


def test_status_252_failed_transient_unit() -> None:
    st = parse_systemctl_status(R252_STATUS_FAILED)
    assert st.bullet == "×"
    assert st.loaded is not None
    assert st.loaded.enablement == "transient"
    assert st.field("Transient") == "yes"
    assert st.active is not None
    assert (st.active.state, st.active.substate) == ("failed", "Result: exit-code")
    assert st.main_pid is not None
    assert st.main_pid.comm is None
    assert st.main_pid.exit_info == "code=exited, status=31"


def test_status_252_advanced_unit() -> None:
    st = parse_systemctl_status(R252_STATUS_MYAPP)
    assert st.description == "MyApp"
    assert st.field("Docs") == "https://myapp.com/docs/1.3.4"
    assert st.field("Process", ) is not None
    assert "ExecStartPre=/usr/bin/rkt --insecure-options=image fetch" in st.field_lines("Process")[0]
    assert st.field("Memory") == "124.3M (limit: 1.0G)"
    assert st.cgroup is not None
    app = st.cgroup.root.find("payload/system.slice/myapp-1-3-4.service")
    assert app is not None
    assert [p.pid for p in app.processes] == [9032, 9042]
    assert app.processes[0].argv[:2] == ("/bin/sh", "-c")


@pytest.mark.parametrize("sample,port", [(DOC_SOCKET_STATUS, 8080), (DOC_PROXY_SOCKET_STATUS, 6371)])
def test_status_document_sockets(sample: str, port: int) -> None:
    st = parse_systemctl_status(sample)
    assert st.unit.endswith(".socket")
    assert st.active is not None
    assert (st.active.state, st.active.substate) == ("active", "listening")
    assert st.field("Listen") == f"[::]:{port} (Stream)"


def test_status_document_proxy_socket_has_no_description() -> None:
    st = parse_systemctl_status(DOC_PROXY_SOCKET_STATUS)
    assert (st.unit, st.description) == ("proxy-to-rkt-redis.socket", None)
    assert st.loaded is not None
    assert st.loaded.enablement == "enabled"


def test_systemctl_show() -> None:
    shown = parse_systemctl_show("Result=success\nExecMainCode=0\nAfter=a.target b.service\n")
    assert shown == {"Result": "success", "ExecMainCode": "0", "After": "a.target b.service"}


# --- machinectl list -----------------------------------------------------------------------


def test_machinectl_document_one_pod() -> None:
    ml = parse_machinectl_list(DOC_MACHINES)
    assert ml.names() == ("rkt-2b0b2cec-8f63-4451-9431-9f8e9b265a23",)
    row = ml.rows[0]
    assert (row.machine_class, row.service, row.os) == ("container", "nspawn", None)
    assert ml.footer == "1 machines listed."


def test_machinectl_document_empty() -> None:
    ml = parse_machinectl_list(DOC_MACHINES_EMPTY)
    assert ml.rows == ()
    assert ml.footer == "0 machines listed."


def test_machinectl_252_one_pod() -> None:
    ml = parse_machinectl_list(R252_MACHINES)
    row = ml.get("rkt-56c007f8-578b-4e7b-8984-078d7a65d15e")
    assert row is not None
    assert (row.machine_class, row.service, row.os, row.version) == ("container", "rkt", "-", "-")
    assert row.addresses == "172.16.28.2…"


def test_machinectl_252_empty() -> None:
    ml = parse_machinectl_list(R252_NO_MACHINES)
    assert ml.rows == ()
    assert ml.footer == "No machines."


def test_machinectl_footer_must_match_rows() -> None:
    with pytest.raises(ValueError):
        parse_machinectl_list("MACHINE CLASS SERVICE\n\n2 machines listed.\n")


# --- journal -------------------------------------------------------------------------------


def test_journal_document_pod_log() -> None:
    entries = parse_journal(DOC_JOURNAL)
    assert len(entries) == 6
    assert {(e.host, e.identifier, e.pid) for e in entries} == {
        ("rkt-2b0b2cec-8f63-4451-9431-9f8e9b265a23", "etcd", 4)}
    assert "became leader at term 2" in entries[1].message
    assert entries[3].message.split("| ", 1)[1].startswith("etcdserver: published {Name:")
    assert entries[5].message.endswith("set the initial cluster version to 2.2")


def test_journal_252_pod_log() -> None:
    entries = parse_journal(R252_JOURNAL)
    assert {e.identifier for e in entries} == {"etcd"}
    assert any(re.search(r"became leader at term \d+$", e.message) for e in entries)
    assert any(e.message.startswith("published {Name:default") for e in entries)
    assert any(e.message == "set the initial cluster version to 3.4" for e in entries)


def test_journal_markers_and_console_forwarded_lines() -> None:
    text = (
        "-- Journal begins at Sat 2026-11-28 22:09:01 UTC. --\n"
        "Nov 28 22:21:21.193504 rktvm rkt[8276]: [  695.193504] myapp-1-3-4[7]: MYAPP-ENV-END\n"
        "-- No entries --\n"
    )
    (entry,) = parse_journal(text)
    assert (entry.identifier, entry.pid) == ("rkt", 8276)
    inner = entry.console_inner()
    assert inner is not None
    assert (inner.identifier, inner.pid, inner.message) == ("myapp-1-3-4", 7, "MYAPP-ENV-END")


def test_env_block_from_the_apps_output() -> None:
    messages = [re.sub(r"^\[\s*[\d.]+\] \S+: ", "", line) for line in R252_APP_ENV.splitlines()]
    env = env_block(messages, "MYAPP-ENV-BEGIN", "MYAPP-ENV-END")
    assert env is not None
    assert env["HTTP_PROXY"] == "192.0.2.3:5000"
    assert env["STORAGE_PATH"] == "/opt/myapp"
    assert env["TMPDIR"] == "/var/tmp"
    assert env["AC_APP_NAME"] == "myapp-1-3-4"


def test_env_block_unfinished_is_none() -> None:
    assert env_block(["MYAPP-ENV-BEGIN", "A=1"], "MYAPP-ENV-BEGIN", "MYAPP-ENV-END") is None


# --- ps auxf -------------------------------------------------------------------------------


def test_ps_document_forest() -> None:
    forest = parse_ps_auxf(DOC_PS_AUXF)
    (nspawn,) = forest.roots
    assert (nspawn.user, nspawn.pid, nspawn.stat) == ("root", 7258, "Ss")
    assert is_nspawn(nspawn)
    assert nspawn.argv[:3] == (
        "stage1/rootfs/usr/lib/ld-linux-x86-64.so.2",
        "stage1/rootfs/usr/bin/systemd-nspawn",
        "--boot",
    )
    assert "--machine=rkt-6d0d9608-a744-4333-be21-942145a97a5a" in nspawn.argv
    (systemd,) = nspawn.children
    assert systemd.argv[0] == "/usr/lib/systemd/systemd"
    assert systemd.ppid == 7258
    assert [(c.pid, c.argv[0]) for c in systemd.children] == [
        (7277, "/usr/lib/systemd/systemd-journald"), (7343, "/etcd")]
    assert not any(is_rkt(p) for p in forest.walk())


def test_ps_252_forest() -> None:
    forest = parse_ps_auxf(R252_PS)
    assert [p.program for p in forest.roots] == ["systemd-machined", "systemd-nspawn"]
    nspawn = forest.by_pid(3140)
    assert nspawn is not None
    assert is_nspawn(nspawn)
    assert nspawn.argv[nspawn.argv.index("--"):] == (
        "--", "--default-standard-output=tty", "--log-target=null", "--show-status=0")
    systemd = nspawn.children[0]
    assert [c.pid for c in systemd.children] == [4044, 4047, 4053]
    etcd = forest.by_pid(4053)
    assert etcd is not None
    assert etcd.argv == ("/etcd", "--data-dir=/var/lib/etcd")
    parent = forest.parent_of(4053)
    assert parent is not None
    assert parent.pid == 4029


def test_ps_continuing_branches() -> None:
    text = (
        "root         1  0.0  0.1  1000   100 ?        Ss   12:00   0:00 /sbin/init\n"
        "root        10  0.0  0.1  1000   100 ?        S    12:00   0:00  \\_ sh -c x\n"
        "root        11  0.0  0.1  1000   100 ?        S    12:00   0:00  |   \\_ sleep 1\n"
        "root        12  0.0  0.1  1000   100 ?        S    12:00   0:00  \\_ /usr/bin/rkt run x\n"
    )
    forest = parse_ps_auxf(text)
    (init,) = forest.roots
    assert [c.pid for c in init.children] == [10, 12]
    assert [c.pid for c in init.children[0].children] == [11]
    assert is_rkt(init.children[1])
    assert not is_rkt(init.children[0])


@pytest.mark.parametrize(
    "cmd,rkt",
    [
        ("/usr/bin/rkt run coreos.com/etcd:v2.2.5", True),
        ("/usr/bin/python3 /usr/bin/rkt run coreos.com/etcd:v2.2.5", True),
        ("python3 -m rkt_ref run x", True),
        ("/bin/sh -c true ; rkt run coreos.com/etcd:v2.2.5", False),
        ("/usr/bin/systemd-nspawn --boot --machine=rkt-x", False),
    ],
)
def test_is_rkt(cmd: str, rkt: bool) -> None:
    text = f"root 5 0.0 0.0 1 1 ? S 12:00 0:00 {cmd}\n"
    (proc,) = parse_ps_auxf(text).roots
    assert is_rkt(proc) is rkt


def test_ps_eo() -> None:
    forest = parse_ps_eo(
        "  PID  PPID COMMAND\n    1     0 /sbin/init\n   20     1 /usr/bin/systemd-nspawn --boot\n"
        "   21    20 /usr/lib/systemd/systemd\n"
    )
    (init,) = forest.roots
    assert init.children[0].children[0].argv == ("/usr/lib/systemd/systemd",)


def test_ps_rejects_other_output() -> None:
    with pytest.raises(ValueError):
        parse_ps_auxf("this is not ps\n")


# --- systemd-cgls --------------------------------------------------------------------------


def test_cgls_document() -> None:
    tree = parse_cgls(DOC_CGLS)
    assert tree.root.path == "/"
    assert tree.root.processes[0].pid == 1
    unit = tree.node("/machine.slice/etcd.service")
    assert unit is not None
    assert [p.pid for p in unit.processes] == [1204, 1421]
    assert all(p.truncated for p in unit.processes)
    assert unit.processes[0].cmdline.endswith("stage1/rootfs/usr/bin/s")
    app = unit.find("system.slice/etcd.service")
    assert app is not None
    assert app.processes[0].cmdline == "/etcd"
    located = tree.locate(1428)
    assert located is not None
    assert located[0].path == "/machine.slice/etcd.service/system.slice/systemd-journald.service"


def test_cgls_document_all() -> None:
    tree = parse_cgls(DOC_CGLS_ALL)
    inner = tree.node("/machine.slice/etcd.service/system.slice")
    assert inner is not None
    names = [c.name for c in inner.children]
    assert len(names) == 44
    assert "reaper-etcd.service" in names
    assert "shutdown.service" in names
    assert "system-prepare\\x2dapp.slice" in names
    assert "opt-stage2-etcd-rootfs-sys-fs-cgroup-cpu\\x2ccpuacct.mount" in names
    assert sum(n.endswith(".mount") for n in names) == 39


def test_cgls_252_header_ids_and_xattrs() -> None:
    tree = parse_cgls(R252_CGLS)
    assert tree.root.path == "/machine.slice"
    (unit,) = tree.root.children
    assert (unit.name, unit.cgroup_id) == ("run-r144d1424cd284fdf99472afb3cdf38ac.service", 2112)
    assert unit.processes == ()
    assert unit.relative_paths() == (
        "payload",
        "payload/init.scope",
        "payload/system.slice",
        "payload/system.slice/systemd-journal-flush.service",
        "payload/system.slice/systemd-journald.service",
        "payload/system.slice/etcd.service",
        "supervisor",
    )
    sup = unit.find("supervisor")
    assert sup is not None
    assert sup.cgroup_id == 2166
    (nspawn,) = sup.processes
    assert nspawn.truncated
    assert nspawn.cmdline.endswith("/var/lib/rkt/pods/run/56c007f8-578b-4e7b-8984-078")
    assert len(tree.nodes_named("systemd-journald.service")) == 1


def test_cgls_252_all_adds_only_the_empty_slice() -> None:
    plain = parse_cgls(R252_CGLS)
    everything = parse_cgls(R252_CGLS_ALL)
    extra = {n.path for n in everything.root.walk()} - {n.path for n in plain.root.walk()}
    assert extra == {
        "/machine.slice/run-r144d1424cd284fdf99472afb3cdf38ac.service"
        "/payload/system.slice/system-prepare\\x2dapp.slice"
    }
    assert not any(n.name.endswith(".mount") for n in everything.root.walk())


def test_cgls_ascii_glyphs() -> None:
    text = (
        "Control group /machine.slice:\n"
        "`-etcd.service (#10)\n"
        "  |-payload\n"
        "  | `-42 /etcd\n"
        "  `-supervisor\n"
        "    `-41 /usr/bin/systemd-nspawn --boot...\n"
    )
    tree = parse_cgls(text)
    sup = tree.node("/machine.slice/etcd.service/supervisor")
    assert sup is not None
    assert sup.processes[0].truncated
    assert sup.processes[0].cmdline == "/usr/bin/systemd-nspawn --boot"


def test_cgls_252_root_label() -> None:
    tree = parse_cgls("Control group /:\n-.slice\n├─init.scope\n│ └─1 /sbin/init\n└─machine.slice\n")
    assert [c.name for c in tree.root.children] == ["init.scope", "machine.slice"]


def test_cgls_rejects_other_output() -> None:
    with pytest.raises(ValueError):
        parse_cgls("Control group /:\n-.slice\n  not a tree line\n")


# --- rkt's tables --------------------------------------------------------------------------


def test_rkt_list() -> None:
    (row,) = parse_rkt_list(R252_RKT_LIST)
    assert (row.uuid, row.app, row.image_name, row.state) == (
        "56c007f8", "etcd", "coreos.com/etcd:v2.2.5", "running")
    assert row.matches("56c007f8-578b-4e7b-8984-078d7a65d15e")


def test_rkt_list_full() -> None:
    (row,) = parse_rkt_list(R252_RKT_LIST_FULL)
    assert row.uuid == "56c007f8-578b-4e7b-8984-078d7a65d15e"
    assert row.state == "running"
    assert row.networks == "default:ip4=172.16.28.2"


def test_rkt_list_exited_garbage() -> None:
    rows = parse_rkt_list(R252_RKT_LIST_GARBAGE)
    assert len(rows) == 6
    assert {r.state for r in rows} == {"exited garbage"}
    myapp = next(r for r in rows if r.uuid == "918cf063")
    assert (myapp.app, myapp.image_name) == ("myapp-1-3-4", "myapp.com/myapp-1.3.4:1.3.4")


def test_rkt_image_list() -> None:
    rows = parse_rkt_image_list(R252_IMAGE_LIST)
    assert [r.name for r in rows] == [
        "coreos.com/etcd:v2.2.5",
        "myapp.com/myapp-1.3.4:1.3.4",
        "coreos.com/rkt/stage1-host:1.30.0+git-dirty",
    ]
    assert rows[0].image_id == "sha512-a7733ba3efd0"


def test_rkt_status() -> None:
    st = parse_rkt_status("state=exited garbage\npid=3140\nexited=true\napp-etcd=0\n")
    assert st == {"state": "exited garbage", "pid": "3140", "exited": "true", "app-etcd": "0"}


def test_exec_status() -> None:
    from steps.parse import parse_exec_status

    text = (
        "{ path=/usr/bin/rkt ; argv[]=/usr/bin/rkt --insecure-options=image fetch "
        "/srv/aci/myapp.aci ; ignore_errors=no ; start_time=[Sat 2026-11-28 22:20:44 UTC] ; "
        "stop_time=[Sat 2026-11-28 22:20:46 UTC] ; pid=8263 ; code=exited ; status=0/0 }\n"
    )
    (run,) = parse_exec_status(text)
    assert (run["path"], run["pid"], run["code"], run["status"]) == (
        "/usr/bin/rkt", "8263", "exited", "0/0")


def test_cgls_command_line_with_a_newline() -> None:
    text = (
        "Control group /system.slice:\n"
        "└─qemu-guest-agent.service (#1409)\n"
        "  ├─188 /usr/sbin/qemu-ga\n"
        "  ├─401 /bin/sh -c set -e\n"
        "systemd-cgls\n"
        "  └─402 systemd-cgls\n"
    )
    node = parse_cgls(text).node("/system.slice/qemu-guest-agent.service")
    assert node is not None
    assert [p.pid for p in node.processes] == [188, 401, 402]
    assert node.processes[1].cmdline == "/bin/sh -c set -e\nsystemd-cgls"


def test_cgls_truncated_cgroup_name() -> None:
    tree = parse_cgls("Control group /:\n-.slice\n└─system.slice (#60)\n  └─systemd-udevd.service … (#1096)\n")
    system = tree.node("/system.slice")
    assert system is not None
    (node,) = system.children
    assert (node.name, node.cgroup_id) == ("systemd-udevd.service …", 1096)
