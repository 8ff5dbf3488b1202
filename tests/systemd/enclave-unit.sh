#!/bin/bash
# enclave@.service under a real systemd: start runs the enclave from its config file, the unit is
# active while the enclave runs, stop terminates the enclave, and a crashed enclave fails the unit
# so Restart=on-failure brings it back.
. "$top_srcdir/tests/systemd/lib.sh"
trap sd_stop EXIT
[ -c /dev/kvm ] || sd_skip "/dev/kvm is absent"
sd_start

count_running() { enclaves | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if e["State"]=="RUNNING" and e["EnclaveName"]=="'"$1"'"))'; }

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
eif=$(sd_run sh -c 'ls /usr/local/share/enclaved/sample-enclave.eif')
sd_run sh -c "cat >/etc/enclaved/enclaves/sample.conf" <<JSON
{"eif_path": "$eif", "memory_mib": 16, "cpu_count": 1}
JSON
sd_run systemctl daemon-reload
sd_run systemctl start enclaved.socket

sd_run systemctl start enclave@sample.service || fail "systemctl start enclave@sample failed"
[ "$(sd_run systemctl is-active enclave@sample.service)" = active ] || fail "enclave@sample is not active"
[ "$(count_running sample)" = 1 ] || fail "no RUNNING enclave named sample: $(enclaves)"

# A crashed enclave (its VMM killed) fails the unit, and Restart=on-failure starts a new one.
id1=$(enclaves | python3 -c 'import json,sys; print([e["EnclaveID"] for e in json.load(sys.stdin) if e["State"]=="RUNNING"][0])')
pid=$(enclaves | python3 -c 'import json,sys; print([e["ProcessID"] for e in json.load(sys.stdin) if e["State"]=="RUNNING"][0])')
sd_run kill -KILL "$pid"
for _ in $(seq 100); do
	id2=$(enclaves | python3 -c 'import json,sys; r=[e["EnclaveID"] for e in json.load(sys.stdin) if e["State"]=="RUNNING"]; print(r[0] if r else "")')
	[ -n "$id2" ] && [ "$id2" != "$id1" ] && break
	sleep 0.2
done
[ -n "$id2" ] && [ "$id2" != "$id1" ] || fail "the unit did not restart the crashed enclave"
restarts=$(sd_run systemctl show -p NRestarts --value enclave@sample.service)
[ "$restarts" -ge 1 ] || fail "NRestarts is $restarts after the crash"

# Stopping the unit terminates the enclave.
sd_run systemctl stop enclave@sample.service
[ "$(count_running sample)" = 0 ] || fail "enclave still running after systemctl stop: $(enclaves)"
state=$(sd_run systemctl is-active enclave@sample.service || true)
[ "$state" = inactive ] || fail "unit state after stop is $state"
echo "PASS: enclave@sample start/active/crash-restart/stop ($id1 -> $id2)"
