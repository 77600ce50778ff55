@trust
Feature: Image trust — only images signed by a key trusted for their name are used
  rkt verifies every fetched image against its detached, armored signature (`.aci.asc`)
  with the keys trusted for the image's name: `rkt trust --prefix=PREFIX KEYFILE` stores a
  key under /etc/rkt/trustedkeys/prefix.d/PREFIX/<fingerprint>. An unsigned, altered or
  otherwise signed image is refused unless `--insecure-options=image`.

  Stand-ins: coreos.com/etcd v2.2.5 is /srv/aci/etcd.aci in the VM, signed by the fixture key
  /srv/aci/keys/coreos.com.asc ("CoreOS fixture signer"); /srv/aci/etcd.aci.example-signed.asc
  is a signature of the same image by an unrelated key, /srv/aci/keys/example.com.asc.
  # `--skip-fingerprint-review`: the commands run without a terminal to review the key on.
  # Difference: the VM has no network, so coreos.com's discovery is answered by a plain
  # HTTP server on loopback (hence --insecure-options=http, which leaves signature checks on).

  Scenario: A signed coreos.com/etcd fetched through discovery is trusted by its prefix
    Given a discovery server on this host for "coreos.com/etcd" serving "/srv/aci/etcd.aci" signed as "/srv/aci/etcd.aci.asc"
    And rkt image list does not show "coreos.com/etcd"
    When I run as root:
      """
      rkt trust --skip-fingerprint-review --prefix=coreos.com/etcd /srv/aci/keys/coreos.com.asc
      rkt --insecure-options=http fetch coreos.com/etcd:v2.2.5
      """
    Then rkt reports that the image is signed by "CoreOS fixture signer <signer@coreos.com>"
    And the key "/srv/aci/keys/coreos.com.asc" is stored as rkt stores keys for the prefix "coreos.com/etcd"
    And rkt image list shows "coreos.com/etcd"

  Scenario: An image altered after signing is refused
    Given the key "/srv/aci/keys/coreos.com.asc" is trusted for the prefix "coreos.com/etcd"
    And a copy of "/srv/aci/etcd.aci" with the signature "/srv/aci/etcd.aci.asc" at "/tmp/altered/etcd.aci"
    And the image "/tmp/altered/etcd.aci" is altered after it was signed
    When I run as root:
      """
      rkt fetch /tmp/altered/etcd.aci
      """
    Then the command fails with a message naming "invalid signature"
    And rkt image list still does not show "coreos.com/etcd"
    When I run as root:
      """
      rkt --insecure-options=image fetch /tmp/altered/etcd.aci
      """
    Then the command succeeds
    And rkt image list shows "coreos.com/etcd"

  Scenario: A key trusted for another prefix does not count
    Given the key "/srv/aci/keys/example.com.asc" is trusted for the prefix "example.com"
    And a copy of "/srv/aci/etcd.aci" with the signature "/srv/aci/etcd.aci.example-signed.asc" at "/tmp/other/etcd.aci"
    When I run as root:
      """
      rkt fetch /tmp/other/etcd.aci
      """
    Then the command fails with a message naming "signature"
    And rkt image list still does not show "coreos.com/etcd"
