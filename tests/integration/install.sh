#!/bin/bash
# make install into a DESTDIR: binaries, units, tmpfiles.d/sysusers.d, man pages, the sample
# image and a default configuration that a second install never overwrites; uninstall keeps an
# edited configuration.
. "$top_srcdir/tests/integration/lib.sh"
dest=$TEST_DIR/dest
flock "$top_builddir/.install.lock" make -s -C "$top_builddir" install DESTDIR="$dest" >/dev/null
# make_var NAME: the variable as make expands it (distcheck sets the unit dir to ${libdir}/...).
make_var() {
	make -s -C "$top_builddir" --no-print-directory -f Makefile -f - print-var VAR="$1" <<'MK'
print-var:
	@echo $($(VAR))
MK
}
prefix=$(make_var prefix)
sysconfdir=$(make_var sysconfdir)
unitdir=$(make_var SYSTEMD_UNIT_DIR)
for f in "$prefix/sbin/enclaved" "$prefix/bin/enclavectl" "$prefix/libexec/enclave-vmm" \
	"$unitdir/enclaved.service" "$unitdir/enclaved.socket" "$unitdir/enclave@.service" \
	"$prefix/lib/tmpfiles.d/enclaved.conf" "$prefix/lib/sysusers.d/enclaved.conf" \
	"$prefix/share/man/man8/enclaved.8" "$prefix/share/man/man1/enclavectl.1" \
	"$prefix/share/man/man5/enclaved.conf.5" "$prefix/share/enclaved/sample-enclave.eif" \
	"$sysconfdir/enclaved/enclaved.conf"; do
	[ -e "$dest$f" ] || fail "make install did not install $f"
done
grep -q "ExecStart=$prefix/sbin/enclaved" "$dest$unitdir/enclaved.service" || fail "unit ExecStart does not name the installed daemon"
# The installed default configuration is one the daemon accepts.
"$dest$prefix/sbin/enclaved" --config "$dest$sysconfdir/enclaved/enclaved.conf" --help >/dev/null
echo "# edited by the administrator" >>"$dest$sysconfdir/enclaved/enclaved.conf"
flock "$top_builddir/.install.lock" make -s -C "$top_builddir" install DESTDIR="$dest" >/dev/null
grep -q "edited by the administrator" "$dest$sysconfdir/enclaved/enclaved.conf" || fail "a second make install overwrote the configuration"
flock "$top_builddir/.install.lock" make -s -C "$top_builddir" uninstall DESTDIR="$dest" >/dev/null
[ -e "$dest$sysconfdir/enclaved/enclaved.conf" ] || fail "uninstall removed an edited configuration"
[ ! -e "$dest$prefix/sbin/enclaved" ] || fail "uninstall left the daemon"
echo "PASS: install, no overwrite of the configuration, uninstall"
