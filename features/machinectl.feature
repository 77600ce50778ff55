@machinectl
Feature: machinectl and journalctl — pods are machines
  Section "systemd-run" of "Using rkt with systemd", its second half: every pod is
  registered with systemd-machined as rkt-$UUID, so machinectl lists it and shuts it down,
  and journalctl -M reads its logs.

  Stand-in: coreos.com/etcd:v2.2.5 is an ACI of Debian's etcd-server 3.4 at
  /srv/aci/etcd.aci in the VM. Its log lines read "raft… INFO: … became leader at term 2"
  instead of etcd 2.2's "I | raft: … became leader at term 2", and the cluster version it
  sets is 3.4, not 2.2.

  Background:
    Given the stand-in image is fetched:
      """
      rkt --insecure-options=image fetch /srv/aci/etcd.aci
      """
    And a pod started with:
      """
      systemd-run --slice=machine rkt run coreos.com/etcd:v2.2.5
      """

  Scenario: machinectl lists the pod as rkt-<uuid>, a container
    When I run:
      """
      machinectl list
      """
    # Difference: systemd 252 adds the columns OS VERSION ADDRESSES, and machined shows the
    # service that registered the pod: rkt sets "rkt" (the document's list shows "nspawn").
    Then the machine list shows the pod as a container registered by "rkt" or "nspawn"
    And the machine list names nothing but the pod

  Scenario: journalctl -M reads the pod's log
    # The document's rkt-2b0b2cec-… is that run's machine; <machine> stands for this run's.
    When I run as root:
      """
      journalctl -M <machine>
      """
    Then the journal shows the app "etcd" logging "became leader at term"
    And the journal shows the app "etcd" logging "published {Name:"
    And the journal shows the app "etcd" logging "set the initial cluster version"

  Scenario: machinectl poweroff shuts the pod down and the list is empty
    When I run as root:
      """
      machinectl poweroff <machine>
      """
    Then the command succeeds
    And the pod's machine is gone within 60 seconds
    When I run:
      """
      machinectl list
      """
    # Difference: systemd 252 prints "No machines." for an empty list; the document's
    # systemd printed the header and "0 machines listed.". Both mean: no rows.
    Then the machine list is empty
    # An orderly poweroff ends the transient service successfully (systemd then drops it).
    And the unit is inactive with result "success" within 60 seconds
