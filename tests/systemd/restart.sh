#!/bin/bash
# Enclaves outlive enclaved's restarts under a real systemd (socket activation): an enclave
# started with enclavectl keeps running and answering on vsock while the daemon is stalled
# (SIGSTOP), killed by the watchdog and restarted, and `systemctl restart enclaved` does not
# end it either; the restarted daemon re-adopts it and can terminate it. Then enclave@sample:
# its main process (enclavectl run-enclave --wait) reconnects, so the unit stays active across
# both kinds of restart, and `systemctl stop` still ends the enclave.
. "$top_srcdir/tests/systemd/lib.sh"
trap sd_stop EXIT
[ -c /dev/kvm ] || sd_skip "/dev/kvm is absent"
sd_start

field() { enclaves | python3 -c "import json,sys; print([e['$2'] for e in json.load(sys.stdin) if e['EnclaveID']=='$1'][0])"; }
main_pid() { sd_run systemctl show -p MainPID --value enclaved.service; }
echo_to() { # ID: echo over the enclave's vsock bridge, from inside the systemd's namespaces
	out=$(sd_run timeout 60 python3 - "/run/enclaved/enclaves/$1/vsock.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
s.sendall(b"CONNECT 5000\n")
line = b""
while not line.endswith(b"\n"):
    c = s.recv(1)
    if not c:
        sys.exit("refused")
    line += c
s.sendall(b"still here")
buf = b""
while len(buf) < 10:
    c = s.recv(10 - len(buf))
    if not c:
        break
    buf += c
print(buf.decode())
PY
	) || fail "echo to $1 failed"
	[ "$out" = "still here" ] || fail "echo from $1: '$out'"
}
# wait_restart OLD_PID: until systemd runs a new main process that answers
wait_restart() {
	for _ in $(seq 150); do
		pid=$(main_pid)
		[ "$pid" != "$1" ] && [ "$pid" != 0 ] && sd_run enclavectl version >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	fail "enclaved was not restarted (main PID $(main_pid))"
}

sd_run systemd-sysusers >/dev/null
sd_run mkdir -p /usr/local/etc/enclaved /etc/enclaved/enclaves
sd_run sh -c 'cat >/usr/local/etc/enclaved/enclaved.conf' <<'CONF'
[pool]
cpu_count = 1
memory_mib = 256
hugepages = none
exclude_cpu0 = no
min_enclave_mib = 4
cpu_oversubscribe = 8
CONF
sd_run mkdir -p /etc/systemd/system/enclaved.service.d
sd_run sh -c 'printf "[Service]\nWatchdogSec=3s\n" >/etc/systemd/system/enclaved.service.d/test.conf'
eif=$(sd_run sh -c 'ls /usr/local/share/enclaved/sample-enclave.eif')
sd_run systemctl daemon-reload
sd_run systemctl start enclaved.socket

id=$(sd_run enclavectl run-enclave --eif-path "$eif" --memory 16 --cpu-count 1 |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["EnclaveID"])') || fail "run-enclave"
vmm=$(field "$id" ProcessID)
echo_to "$id"

# Stalled daemon: the watchdog kills it (SIGABRT), systemd restarts it, the VMM lives on.
pid1=$(main_pid)
sd_run kill -STOP "$pid1"
wait_restart "$pid1"
sd_run kill -0 "$vmm" || fail "VMM $vmm died with the daemon"
[ "$(field "$id" State)" = RUNNING ] || fail "after the watchdog restart: $(enclaves)"
echo_to "$id"
sd_run journalctl --no-pager -u enclaved | grep -q "re-adopted VMM" || fail "no re-adoption logged"

# A clean restart (SIGTERM) leaves it running too.
pid2=$(main_pid)
sd_run systemctl restart enclaved.service
wait_restart "$pid2"
[ "$(field "$id" State)" = RUNNING ] || fail "after systemctl restart: $(enclaves)"
echo_to "$id"
sd_run enclavectl terminate-enclave --enclave-id "$id" >/dev/null || fail "terminate after re-adoption"
[ "$(field "$id" State)" = TERMINATED ] || fail "not TERMINATED: $(enclaves)"
! sd_run kill -0 "$vmm" 2>/dev/null || fail "VMM $vmm still running after terminate"

# enclave@sample: the unit's main process (run-enclave --wait) rides out a watchdog restart and
# a `systemctl restart enclaved` of the daemon; stopping the unit afterwards ends the enclave.
unit_active() { [ "$(sd_run systemctl is-active enclave@sample.service || true)" = active ]; }
sd_run sh -c "cat >/etc/enclaved/enclaves/sample.conf" <<JSON
{"eif_path": "$eif", "memory_mib": 16, "cpu_count": 1}
JSON
sd_run systemctl start enclave@sample.service || fail "systemctl start enclave@sample"
sid=$(enclaves | python3 -c 'import json,sys; print([e["EnclaveID"] for e in json.load(sys.stdin) if e["State"]=="RUNNING" and e["EnclaveName"]=="sample"][0])')
waiter=$(sd_run systemctl show -p MainPID --value enclave@sample.service)

pid3=$(main_pid)
sd_run kill -STOP "$pid3"
wait_restart "$pid3"
# The client reconnects with a backoff of at most 2 s: give it that, then it must be back.
for _ in $(seq 50); do
	sd_run journalctl --no-pager -u enclave@sample.service | grep -q "reconnected to enclaved" && break
	sleep 0.2
done
sd_run journalctl --no-pager -u enclave@sample.service | grep -q "reconnected to enclaved" ||
	fail "enclave@sample's enclavectl did not reconnect after the watchdog restart"
unit_active || fail "enclave@sample is not active after the watchdog restart"
[ "$(sd_run systemctl show -p MainPID --value enclave@sample.service)" = "$waiter" ] ||
	fail "enclave@sample's main process changed across the watchdog restart"
[ "$(field "$sid" State)" = RUNNING ] || fail "unit's enclave after the watchdog restart: $(enclaves)"
echo_to "$sid"

pid4=$(main_pid)
sd_run systemctl restart enclaved.service
wait_restart "$pid4"
sleep 3
unit_active || fail "enclave@sample is not active after systemctl restart enclaved"
[ "$(sd_run systemctl show -p MainPID --value enclave@sample.service)" = "$waiter" ] ||
	fail "enclave@sample's main process changed across systemctl restart enclaved"
[ "$(sd_run systemctl show -p NRestarts --value enclave@sample.service)" = 0 ] ||
	fail "enclave@sample was restarted"
[ "$(field "$sid" State)" = RUNNING ] || fail "unit's enclave after a daemon restart: $(enclaves)"
echo_to "$sid"

sd_run systemctl stop enclave@sample.service
[ "$(field "$sid" State)" = TERMINATED ] || fail "enclave@sample's enclave not TERMINATED after stop: $(enclaves)"
state=$(sd_run systemctl is-active enclave@sample.service || true)
[ "$state" = inactive ] || fail "enclave@sample is '$state' after stop"
echo "PASS: an enclave survives watchdog and clean restarts of enclaved, and so does enclave@sample"
