@main-process
Feature: rkt must be the main process of the service
  Section "Advanced Unit File", its closing advice, of "Using rkt with systemd": rkt must be
  the service's main process for isolators and machined to work; `/bin/sh -c "foo ; rkt run
  ..."` leaves sh as the main process, `/bin/sh -c "foo ; exec rkt run ..."` does not.

  Stand-ins: the document's `foo` is `true` and its `rkt run ...` is the simple unit's
  `rkt run coreos.com/etcd:v2.2.5` (Debian's etcd at /srv/aci/etcd.aci in the VM).

  Background:
    Given the stand-in image is fetched:
      """
      rkt --insecure-options=image fetch /srv/aci/etcd.aci
      """

  Scenario: Without exec, the shell stays the main process, as the document warns
    Given the unit file "/etc/systemd/system/etcd-sh.service":
      """
      [Unit]
      Description=etcd behind a shell

      [Service]
      Slice=machine.slice
      ExecStart=/bin/sh -c "true ; rkt run coreos.com/etcd:v2.2.5"
      KillMode=mixed
      """
    And the unit was started and its pod's etcd logs "became leader at term"
    Then the unit's main process is "sh"
    And the pod's systemd-nspawn runs below the unit's main process

  Scenario: With exec, systemd-nspawn of the pod is the main process
    Given the unit file "/etc/systemd/system/etcd-exec.service":
      """
      [Unit]
      Description=etcd through exec

      [Service]
      Slice=machine.slice
      ExecStart=/bin/sh -c "true ; exec rkt run coreos.com/etcd:v2.2.5"
      KillMode=mixed
      """
    And the unit was started and its pod's etcd logs "became leader at term"
    Then the unit's main process is systemd-nspawn of the pod
    And no rkt or shell process is left in the unit's cgroup
