@simple-unit
Feature: Simple unit file — a pod managed as a systemd service
  Section "Managing pods as systemd services / Simple Unit File" of "Using rkt with
  systemd": the document's etcd.service is managed with the standard systemctl commands;
  with KillMode=mixed, `systemctl stop` sends SIGTERM to the pod, which shuts down in order,
  and Restart=always brings a new pod back when the old one dies.

  Stand-ins: coreos.com/etcd:v2.2.5 is an ACI of Debian's etcd-server 3.4 at
  /srv/aci/etcd.aci in the VM. To see SIGTERM reach the app, one scenario runs the same
  unit with myapp.com/myapp-1.3.4 (/srv/aci/myapp.aci, a busybox shell whose SIGTERM trap
  writes /sigterm-marker into its rootfs and exits 0).

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

  Scenario: systemctl start runs the pod as etcd.service in machine.slice
    When I run as root:
      """
      systemctl start etcd.service
      """
    Then the command succeeds
    And the unit is active within 120 seconds
    And the unit is placed in machine.slice
    And the unit's pod is registered with machined within 120 seconds
    And the pod's etcd logs "became leader at term" within 120 seconds
    And the unit's main process is systemd-nspawn of the pod

  Scenario: systemctl stop ends the unit inactive, not failed, and the machine is gone
    Given the unit was started and its pod's etcd logs "became leader at term"
    When I run as root:
      """
      systemctl stop etcd.service
      """
    Then the command succeeds
    And the unit is inactive with result "success" within 60 seconds
    And the pod's machine is gone within 60 seconds
    And rkt lists the pod as "exited" within 30 seconds

  Scenario: systemctl restart replaces the pod with a new one
    Given the unit was started and its pod's etcd logs "became leader at term"
    When I run as root:
      """
      systemctl restart etcd.service
      """
    Then the command succeeds
    And a new pod of the unit is registered with machined within 120 seconds
    And the pod's etcd logs "became leader at term" within 120 seconds
    And rkt lists the previous pod as "exited" within 30 seconds

  Scenario: systemctl enable and disable of a unit without an [Install] section
    # Difference: the document lists `systemctl enable/disable etcd.service`, but its unit has
    # no [Install] section. systemd 252 then only explains that the unit is not meant to be
    # enabled, succeeds, and the unit stays "static": it is started by hand (or by a unit that
    # wants it), not at boot.
    When I run as root:
      """
      systemctl enable etcd.service
      """
    Then the command succeeds
    And systemctl explains that the unit has no installation config
    And the unit file state of "etcd.service" is "static"
    When I run as root:
      """
      systemctl disable etcd.service
      """
    Then the command succeeds
    And the unit file state of "etcd.service" is "static"

  Scenario: stop is orderly — SIGTERM reaches the app, which exits on its own
    # The document's unit with the myapp stand-in for etcd: only the image name differs.
    Given the stand-in image is fetched:
      """
      rkt --insecure-options=image fetch /srv/aci/myapp.aci
      """
    And the unit file "/etc/systemd/system/myapp.service":
      """
      [Unit]
      Description=myapp

      [Service]
      Slice=machine.slice
      ExecStart=/usr/bin/rkt run myapp.com/myapp-1.3.4
      KillMode=mixed
      Restart=always
      """
    And the unit was started and its pod's app printed its environment
    When I run as root:
      """
      systemctl stop myapp.service
      """
    Then the command succeeds
    And the unit is inactive with result "success" within 60 seconds
    And the app "myapp-1-3-4" of the pod wrote its SIGTERM marker
    And rkt status reports that the app "myapp-1-3-4" of the pod exited with 0 within 30 seconds

  Scenario: Restart=always brings a new pod back after the app is killed
    Given the unit was started and its pod's etcd logs "became leader at term"
    # Killing the app from the host: systemd must notice through the pod's main process
    # (nspawn exits with the app's status) and restart the service with a new pod.
    When I kill the app "/etcd" of the pod from the host
    Then a new pod of the unit is registered with machined within 150 seconds
    And the unit has been restarted at least once
    And the pod's etcd logs "became leader at term" within 120 seconds
    And rkt lists the previous pod as "exited" within 30 seconds
