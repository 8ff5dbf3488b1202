# systemd units (see systemd/README.md)
EXTRA_DIST += systemd/README.md
