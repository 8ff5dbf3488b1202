#!/bin/bash
# enclaved under a real systemd: socket activation, sd_notify STATUS, reload, and the watchdog
# restarting a stalled daemon.
. "$top_srcdir/tests/systemd/lib.sh"
trap sd_stop EXIT
sd_start


sd_run systemd-sysusers >/dev/null
sd_run systemd-tmpfiles --create >/dev/null 2>&1 || true
getent_group=$(sd_run getent group enclave || true)
[ -n "$getent_group" ] || fail "sysusers.d did not create the enclave group"
sd_run mkdir -p /usr/local/etc/enclaved
sd_run sh -c 'cat >/usr/local/etc/enclaved/enclaved.conf' <<'CONF'
[pool]
cpu_count = 1
memory_mib = 64
hugepages = none
exclude_cpu0 = no
min_enclave_mib = 4
CONF
# A short watchdog so the stall test does not wait 30 s.
sd_run mkdir -p /etc/systemd/system/enclaved.service.d
sd_run sh -c 'printf "[Service]\nWatchdogSec=3s\n" >/etc/systemd/system/enclaved.service.d/test.conf'
sd_run systemctl daemon-reload

# Socket activation: the service starts on the first connection, not before.
sd_run systemctl start enclaved.socket
[ "$(sd_run systemctl is-active enclaved.service || true)" = inactive ] || fail "enclaved started before any connection"
mode=$(sd_run stat -c '%a %G' /run/enclaved/enclaved.sock)
[ "$mode" = "660 enclave" ] || fail "socket mode/group is '$mode', expected '660 enclave'"
out=$(sd_run enclavectl version) || fail "enclavectl version through the activated socket failed"
echo "$out" | grep -q '"DaemonVersion"\|"daemon' || fail "no daemon version in: $out"
[ "$(sd_run systemctl is-active enclaved.service)" = active ] || fail "enclaved not active after the first connection"

# The STATUS= line is shown by systemctl status.
status=$(sd_run systemctl show -p StatusText --value enclaved.service)
[ -n "$status" ] || fail "no STATUS= text from sd_notify"
echo "status: $status"

# Reload via SIGHUP keeps the same main PID.
pid1=$(sd_run systemctl show -p MainPID --value enclaved.service)
sd_run systemctl reload enclaved.service
sleep 0.5
pid2=$(sd_run systemctl show -p MainPID --value enclaved.service)
[ "$pid1" = "$pid2" ] || fail "reload changed the main PID ($pid1 -> $pid2)"

# A stalled main loop (SIGSTOP) trips the watchdog; systemd restarts the daemon.
sd_run kill -STOP "$pid1"
for _ in $(seq 100); do
	pid3=$(sd_run systemctl show -p MainPID --value enclaved.service)
	[ "$pid3" != "$pid1" ] && [ "$pid3" != 0 ] && break
	sleep 0.2
done
[ "$pid3" != "$pid1" ] && [ "$pid3" != 0 ] || fail "watchdog did not restart the stalled daemon"
restarts=$(sd_run systemctl show -p NRestarts --value enclaved.service)
[ "$restarts" -ge 1 ] || fail "NRestarts is $restarts"
sd_run enclavectl version >/dev/null || fail "restarted daemon does not answer"
echo "PASS: socket activation, status, reload, watchdog restart ($pid1 -> $pid3)"
