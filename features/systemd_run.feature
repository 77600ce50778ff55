@systemd-run
Feature: systemd-run — a daemonized pod in a transient service
  Section "systemd-run" of "Using rkt with systemd": wrapping `rkt run` in systemd-run
  starts the pod in a transient service unit placed in machine.slice, which the usual
  systemd tools then manage.

  Stand-in: the document's coreos.com/etcd:v2.2.5 is an ACI of Debian's etcd-server 3.4
  (/srv/aci/etcd.aci in the VM), fetched into the store so that `rkt run` finds it offline.

  Background:
    Given the stand-in image is fetched:
      """
      rkt --insecure-options=image fetch /srv/aci/etcd.aci
      """

  Scenario: systemd-run starts the pod in a transient unit in machine.slice
    When I run as root:
      """
      systemd-run --slice=machine rkt run coreos.com/etcd:v2.2.5
      """
    # Difference: systemd 252 prints "Running as unit: run-r<32 hex>.service" (colon, random
    # name) on stderr; the document shows "Running as unit run-29486.service.".
    Then systemd-run announces the transient unit it started
    And the unit is placed in machine.slice
    And the unit is active within 120 seconds
    And the unit's pod is registered with machined within 120 seconds
    And the pod's etcd logs "became leader at term" within 120 seconds

  Scenario: systemctl status shows the transient unit running nspawn over the pod's cgroup tree
    When I run as root:
      """
      systemd-run --slice=machine rkt run coreos.com/etcd:v2.2.5
      """
    Then systemd-run announces the transient unit it started
    And the unit's pod is registered with machined within 120 seconds
    And the pod's etcd logs "became leader at term" within 120 seconds
    # The document's run-29486.service is that run's name; <unit> stands for this run's.
    When I run:
      """
      systemctl status <unit>
      """
    # Difference: systemd 252 shows "Loaded: loaded (/run/systemd/transient/<unit>; transient)"
    # and "Transient: yes" instead of /run/systemd/system/… with 50-*.conf drop-ins.
    Then the status shows the unit loaded and active (running)
    # Difference: the host flavour runs the host's nspawn, so the main PID's name is
    # "systemd-nspawn"; the document's stage1 ran it through its ld.so ("ld-linux-x86-64").
    And the status shows systemd-nspawn of the pod as the main PID
    And the status shows the CGroup tree of the unit in machine.slice
    # Difference: on cgroup v2 (systemd 252) nspawn sits in <unit>/supervisor and the pod in
    # <unit>/payload; the document shows both directly in the unit's cgroup.
    And the CGroup tree holds the pod's systemd, systemd-journald and the app "etcd" running "/etcd"
