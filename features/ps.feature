@ps
Feature: ps auxf — rkt execs nspawn, which boots systemd, which runs the apps
  Section "Other tools for managing pods / ps auxf" of "Using rkt with systemd", with the
  simple unit's etcd.service started on the host: rkt execs stage1's systemd-nspawn instead
  of forking, so rkt itself is not listed; nspawn boots systemd inside the pod, which runs
  the app and systemd-journald.

  Stand-in: coreos.com/etcd:v2.2.5 is an ACI of Debian's etcd-server 3.4 at
  /srv/aci/etcd.aci in the VM.

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

  Scenario: The process tree is nspawn, then the pod's systemd, then journald and the app
    When I run:
      """
      ps auxf
      """
    # Difference: the host flavour runs the host's /usr/bin/systemd-nspawn, not stage1's
    # through ld-linux-x86-64.so.2; the inner systemd is not given --log-level=warning.
    Then the process tree has the unit's main process as systemd-nspawn booting the pod
    And below it the pod's systemd runs with the document's arguments
    # Difference: on systemd 252 the pod may run two systemd-journald processes (one for
    # systemd-journal-flush.service); the document shows one.
    And below the pod's systemd run systemd-journald and "/etcd"

  Scenario: rkt itself is not in the process list
    When I run:
      """
      ps auxf
      """
    Then the process tree has no rkt process
    And the process tree has the unit's main process as systemd-nspawn booting the pod
