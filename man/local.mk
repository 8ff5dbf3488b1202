# man pages (see man/README.md): hand-written roff, installed by `make install`, in the tarball.
dist_man_MANS = man/enclaved.8 man/enclavectl.1 man/enclaved.conf.5
EXTRA_DIST += man/README.md
