@socket-proxyd @issue-5 @needs-network
Feature: socket-proxyd — systemd listens locally and proxies to the pod's address
  Section "Bidirectionally proxy local sockets to another (possibly remote) socket" of
  "Using rkt with systemd": redis runs in a pod with a fixed address on a PTP network, and a
  socket-activated systemd-socket-proxyd forwards localhost:6371 to it.

  Stand-in: Docker Hub is out of reach, so docker://redis comes from a Docker registry on
  127.0.0.1:5000 inside the VM, holding an image of Debian's redis-server 7 (built from
  /srv/aci/redis.aci), with rkt's docker.d mirror configuration pointing docker.io at it.
  # Differences: the document's unit asks for --net="ptp:IP=…" while its config is named
  # "ptp0": the unit below names ptp0. The document enables "proxy-to-redis.socket" although
  # the file is "proxy-to-rkt-redis.socket": the commands below use the file's name.
  # redis 7 drops the document's `curl http://localhost:6371/` (curl exit 52, "Possible
  # SECURITY ATTACK"); redis-cli's PING answers PONG over the same proxy instead.
  # systemd-socket-proxyd is /lib/systemd/systemd-socket-proxyd on Debian 12, which /usr/lib
  # also reaches (merged /usr).

  Background:
    Given the docker registry on this host serves "/srv/aci/redis.aci" as "library/redis:latest"
    And the file "/etc/rkt/net.d/ptp0.conf":
      """
      {
      	"name": "ptp0",
      	"type": "ptp",
      	"ipMasq": true,
      	"ipam": {
      		"type": "host-local",
      		"subnet": "172.16.28.0/24",
      		"routes": [
      			{ "dst": "0.0.0.0/0" }
      		]
      	}
      }
      """
    And the unit file "/etc/systemd/system/rkt-redis.service":
      """
      [Unit]
      Description=Socket-proxyd redis server

      [Service]
      ExecStart=/usr/bin/rkt --insecure-options=image run --net="ptp0:IP=172.16.28.101" docker://redis
      KillMode=process
      """
    And the unit file "/etc/systemd/system/proxy-to-rkt-redis.service":
      """
      [Unit]
      Requires=rkt-redis.service
      After=rkt-redis.service

      [Service]
      ExecStart=/usr/lib/systemd/systemd-socket-proxyd 172.16.28.101:6379
      """
    And the unit file "/etc/systemd/system/proxy-to-rkt-redis.socket":
      """
      [Socket]
      ListenStream=6371

      [Install]
      WantedBy=sockets.target
      """

  Scenario: The proxy socket is enabled and listening on 6371
    When I run as root:
      """
      systemctl enable proxy-to-rkt-redis.socket
      systemctl start proxy-to-rkt-redis.socket
      """
    Then the command succeeds
    When I run:
      """
      systemctl status proxy-to-rkt-redis.socket
      """
    Then the status shows the unit "proxy-to-rkt-redis.socket" loaded and active (listening)
    And the status shows it listening on "[::]:6371 (Stream)"
    And the unit file state of "proxy-to-rkt-redis.socket" is "enabled"

  Scenario: A connection to localhost:6371 starts redis in its pod and reaches it
    Given the socket unit "proxy-to-rkt-redis.socket" is listening
    When I ask redis through localhost port 6371 to PING within 180 seconds
    Then redis answers "PONG"
    And the unit "rkt-redis.service" is active within 60 seconds
    And the unit's pod is registered with machined within 120 seconds
    And rkt lists the pod on the network "ptp0" with the address "172.16.28.101"
