# systemd units, tmpfiles.d and sysusers.d (see systemd/README.md).
systemdunitdir = $(SYSTEMD_UNIT_DIR)
systemdunit_DATA = systemd/enclaved.service systemd/enclaved.socket systemd/enclave@.service
CLEANFILES += $(systemdunit_DATA)
EXTRA_DIST += systemd/README.md systemd/enclaved.service.in systemd/enclaved.socket.in \
	systemd/enclave@.service.in systemd/enclaved.tmpfiles systemd/enclaved.sysusers \
	systemd/enclaved.conf

systemd/%: $(srcdir)/systemd/%.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@bindir[@]|$(bindir)|g' \
		-e 's|@libexecdir[@]|$(libexecdir)|g' $< >$@

# tmpfiles.d and sysusers.d want the package name as the file name.
install-data-local: install-systemd-extras
uninstall-local: uninstall-systemd-extras
install-systemd-extras:
	$(MKDIR_P) $(DESTDIR)$(prefix)/lib/tmpfiles.d $(DESTDIR)$(prefix)/lib/sysusers.d
	$(INSTALL_DATA) $(srcdir)/systemd/enclaved.tmpfiles $(DESTDIR)$(prefix)/lib/tmpfiles.d/enclaved.conf
	$(INSTALL_DATA) $(srcdir)/systemd/enclaved.sysusers $(DESTDIR)$(prefix)/lib/sysusers.d/enclaved.conf
	@# The configuration belongs to the administrator once installed: never overwrite it.
	$(MKDIR_P) $(DESTDIR)$(sysconfdir)/enclaved/enclaves
	test -e $(DESTDIR)$(sysconfdir)/enclaved/enclaved.conf || \
		$(INSTALL_DATA) -m 0644 $(srcdir)/systemd/enclaved.conf $(DESTDIR)$(sysconfdir)/enclaved/enclaved.conf
uninstall-systemd-extras:
	rm -f $(DESTDIR)$(prefix)/lib/tmpfiles.d/enclaved.conf $(DESTDIR)$(prefix)/lib/sysusers.d/enclaved.conf
	@# Only an untouched configuration is removed; an edited one stays.
	if cmp -s $(srcdir)/systemd/enclaved.conf $(DESTDIR)$(sysconfdir)/enclaved/enclaved.conf; then \
		rm -f $(DESTDIR)$(sysconfdir)/enclaved/enclaved.conf; fi
	-rmdir $(DESTDIR)$(sysconfdir)/enclaved/enclaves $(DESTDIR)$(sysconfdir)/enclaved 2>/dev/null
.PHONY: install-systemd-extras uninstall-systemd-extras
