@socket-activation @issue-5
Feature: Socket-activated service — systemd listens, a connection starts the pod
  Section "Socket-activated service" of "Using rkt with systemd": a .socket unit listens on
  the host's port 8080 on behalf of the pod; the first connection starts the .service, whose
  `rkt run --port 80-tcp:8080` hands the listening socket through nspawn and the pod's
  systemd to the app.

  Stand-in: myapp.com/my-socket-activated-app:v1.0 is the project's own small app at
  /srv/aci/my-socket-activated-app.aci in the VM, with the document's port
  {"name": "80-tcp", "protocol": "tcp", "port": 80, "count": 1, "socketActivated": true};
  it answers HTTP only on the socket it was passed ("Hello from my-socket-activated-app") and
  exits 3 when it was passed none, so an answer proves the socket went through rkt, nspawn and
  the pod's systemd. The pod runs on rkt's default network (ptp, 172.16.28.0/24); the socket
  still lives in the host's namespace, where systemd made it.

  Background:
    Given the stand-in image is fetched:
      """
      rkt --insecure-options=image fetch /srv/aci/my-socket-activated-app.aci
      """
    And the unit file "/etc/systemd/system/my-socket-activated-app.socket":
      """
      [Unit]
      Description=My socket-activated app's socket

      [Socket]
      ListenStream=8080
      """
    And the unit file "/etc/systemd/system/my-socket-activated-app.service":
      """
      [Unit]
      Description=My socket-activated app

      [Service]
      ExecStart=/usr/bin/rkt run --port 80-tcp:8080 myapp.com/my-socket-activated-app:v1.0
      KillMode=mixed
      """

  Scenario: The socket listens on 8080 and no pod runs before the first connection
    When I run as root:
      """
      systemctl start my-socket-activated-app.socket
      """
    Then the command succeeds
    When I run:
      """
      systemctl status my-socket-activated-app.socket
      """
    # Difference: systemd 252 prints "Loaded: loaded (…; static)" without "vendor preset".
    Then the status shows the unit "my-socket-activated-app.socket" loaded and active (listening)
    And the status shows it listening on "[::]:8080 (Stream)"
    And no machine is registered

  Scenario: A connection starts the pod, and the app answers over the passed socket
    Given the socket unit "my-socket-activated-app.socket" is listening
    When I connect to port 8080 on the host within 120 seconds
    Then the app answers over the connection
    And the unit "my-socket-activated-app.service" is active within 60 seconds
    And the unit's pod is registered with machined within 120 seconds
    # rkt's default network: the pod has its own namespace, the socket stays the host's.
    And rkt lists the pod on the network "default" with an address in "172.16.28.0/24"

  Scenario: After the service stops, the next connection starts a new pod
    Given the socket unit "my-socket-activated-app.socket" is listening
    And a connection to port 8080 on the host got an answer within 120 seconds
    And the unit "my-socket-activated-app.service" is active within 60 seconds
    And the unit's pod is registered with machined within 120 seconds
    When I run as root:
      """
      systemctl stop my-socket-activated-app.service
      """
    Then the pod's machine is gone within 60 seconds
    When I connect to port 8080 on the host within 120 seconds
    Then the app answers over the connection
    And a new pod of the unit is registered with machined within 120 seconds
