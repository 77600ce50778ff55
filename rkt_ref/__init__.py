"""rkt_ref: a small rkt-compatible container runtime (host stage1 flavor)."""

VERSION = "1.30.0+rkt-ref"
APPC_VERSION = "0.8.11"
