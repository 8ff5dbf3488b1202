# man pages (see man/README.md)
