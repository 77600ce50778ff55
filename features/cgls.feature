@cgls
Feature: systemd-cgls — the pod's cgroups below the service
  Section "Other tools for managing pods / systemd-cgls" of "Using rkt with systemd", with
  the simple unit's etcd.service started: the pod lives in machine.slice/etcd.service, and
  the inner system.slice is a cgroup of the pod, where its systemd runs the app and
  systemd-journald.

  Stand-in: coreos.com/etcd:v2.2.5 is an ACI of Debian's etcd-server 3.4 at
  /srv/aci/etcd.aci in the VM.

  # Difference (cgroup v2, systemd 252): the unit's cgroup has two children, "supervisor"
  # (systemd-nspawn) and "payload" (the pod: init.scope with its systemd, and system.slice);
  # the document shows nspawn, the pod's systemd and system.slice directly in the unit's
  # cgroup. systemd 252 also prints a "Control group /:" header, cgroup ids "(#1234)" and
  # extended attribute lines ("→ user.invocation_id: …"). Both shapes are accepted.

  Background:
    Given the stand-in image is fetched:
      """
      rkt --insecure-options=image fetch /srv/aci/etcd.aci
      """
    # The VM carries Debian's etcd-server only to build the stand-in image: its own
    # etcd.service, SysV script and mask must not shadow the document's unit.
    And the host has no etcd service of its own
    And the unit file "/etc/systemd/system/etcd.service":
      """
      [Unit]
      Description=etcd

      [Service]
      Slice=machine.slice
      ExecStart=/usr/bin/rkt run coreos.com/etcd:v2.2.5
      KillMode=mixed
      Restart=always
      """
    And the unit was started and its pod's etcd logs "became leader at term"

  Scenario: The app and journald run in the pod's inner system.slice
    When I run:
      """
      systemd-cgls
      """
    Then the cgroup tree has the unit in machine.slice
    And the pod's inner system.slice has "etcd.service" running "/etcd"
    And the pod's inner system.slice has "systemd-journald.service" running systemd-journald

  Scenario: nspawn and the pod's systemd run in the unit's cgroup, nothing of the pod outside it
    When I run:
      """
      systemd-cgls
      """
    Then the cgroup tree has the unit in machine.slice
    And the unit's cgroup holds the unit's main process
    And the unit's cgroup holds the pod's systemd
    And every process of the pod is in the unit's cgroup
