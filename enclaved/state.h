/* Persisted enclave records, so that a restarted enclaved re-adopts the enclaves whose VMMs
 * outlived it (enclaved/README.md, "Restarts").
 *
 * Where: <runtime-dir>/enclave-records/<id>.json (directory 0700, files 0600, root) and the
 * enclave's attestation identity in <id>.attest beside it. The runtime directory, not the state
 * directory: VMMs and guest memory never survive a reboot, and the runtime directory (a tmpfs
 * under /run) does not either, so a record can never describe an enclave of an earlier boot.
 * Not inside <runtime-dir>/enclaves/<id>/: that directory is writable by the owner and the VMM
 * sandbox group, the records must be root's alone.
 *
 * Format: one header line "enclaved-enclave-record 1 sha256=<64 hex> len=<n>\n", then n bytes
 * of JSON. A wrong version, length or checksum (a torn or damaged file) is reported and the
 * record is never trusted. Writes are atomic (util_write_file_atomic: temp file, fsync,
 * rename), and each record has a second copy, <id>.json.bak, written after the first, from
 * which a damaged <id>.json is recovered at re-adoption. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct enclave;
struct enclaved;

#define STATE_RECORD_VERSION 1
#define STATE_RECORD_DIR     "enclave-records"
#define STATE_RECORD_MAX     (64u * 1024u)
#define STATE_BACKUP_SUFFIX  ".json.bak"

/* <runtime>/enclave-records/<id><suffix>; -ENAMETOOLONG when it does not fit. */
int state_path(const struct enclaved *d, const char *id, const char *suffix, char *buf, size_t len);

/* Write e's record (after Run spawned the VMM, on the heartbeat, resize and re-adoption). */
int state_record_save(const struct enclave *e);
/* Remove the record and the attestation file of id (missing files are fine). */
void state_record_remove(const struct enclaved *d, const char *id);

/* Encode e's record (header + JSON) into a malloc'd buffer. */
int state_record_encode(const struct enclave *e, char **out, size_t *len);
/* Decode and check a record read from a file named for `id`; fills the persisted fields of e
 * (id, name, eif_path, cid, owner, debug, memory, CPUs, start time, heartbeat deadline,
 * measurements, state, generation, pid, pid_start). runtime_dir is not taken from the file:
 * the caller derives it. On failure *error (malloc'd) names the problem: field, offset, value. */
int state_record_decode(const char *text, size_t len, const char *id, struct enclave *e,
			char **error);

/* The process's start time in clock ticks since boot (/proc/<pid>/stat field 22): a pid and
 * its start time name one process even after the pid is reused. */
int state_pid_start(pid_t pid, uint64_t *out);
/* pid is the process that started at start and has not exited (a zombie has). For VMMs
 * re-adopted without a pidfd (kernels before 5.3, valgrind). */
bool state_pid_alive(pid_t pid, uint64_t start);

/* Save e's attestation identity (no-op without one) when its NSM state changed since the last
 * save: PCR values and locks are compared by digest. */
int state_attestation_sync(struct enclave *e);

/* At daemon start (pool and attestation set up): re-adopt or report every recorded enclave
 * (state-adopt.c). Damaged records are reported and set aside; never fails the start. */
int state_adopt_all(struct enclaved *d);
