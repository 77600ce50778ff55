@smoke
Feature: The harness itself: disposable systemd VMs
  Before any workflow of "Using rkt with systemd" can be judged, the machine it
  runs on has to be a real systemd host: booted, running, and able to place
  transient units in machine.slice as the document's first command does.

  Scenario: A disposable VM is a running systemd host
    Given a disposable VM
    Then "systemctl is-system-running" in the VM prints "running"

  Scenario: A transient unit started in machine.slice appears in systemd-cgls
    Given a disposable VM
    When I start a transient unit in machine.slice running "sleep 60"
    Then systemd-cgls /machine.slice shows that unit holding "/usr/bin/sleep 60"
