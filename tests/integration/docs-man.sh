#!/bin/bash
# The man pages must format cleanly and keep step with the code: every enclavectl command and
# each of its long flags (from the built binary's --help) in enclavectl.1, every enclaved option
# in enclaved.8, every config section and key the parsers accept (from their sources) in
# enclaved.conf.5, every exit code enclavectl defines in its EXIT STATUS table.
set -eu
: "${top_builddir:?run through make check}"
: "${top_srcdir:?run through make check}"
ctl=$top_builddir/ctl/enclavectl
daemon=$top_builddir/enclaved/enclaved
man=$top_srcdir/man
[ -x "$ctl" ] && [ -x "$daemon" ] || { echo "SKIP: enclavectl or enclaved not built"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }

bad=0
problem() { echo "docs-man: $*"; bad=1; }

if command -v groff >/dev/null; then
	for page in enclaved.8 enclavectl.1 enclaved.conf.5; do
		out=$(groff -t -man -ww -z "$man/$page" 2>&1) || problem "$page: groff failed"
		[ -z "$out" ] || problem "$page: groff warns: $out"
	done
else
	echo "docs-man: groff is not installed; formatting not checked"
fi

# Plain text of a page: roff's \- is a plain dash for these checks.
text() { sed -e 's/\\-/-/g' -e 's/\\(em/-/g' "$man/$1"; }

ctl_page=$(text enclavectl.1)
commands=$("$ctl" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
[ -n "$commands" ] || problem "enclavectl --help lists no commands"
for cmd in $commands; do
	grep -qx ".SS \"$cmd.*\"" <<<"$ctl_page" || problem "enclavectl.1: no section for '$cmd'"
	flags=$("$ctl" "$cmd" --help 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' | sort -u || true)
	for f in $flags; do
		[ "$f" = --help ] && continue
		grep -q -- "$f" <<<"$ctl_page" || problem "enclavectl.1: '$cmd $f' is not documented"
	done
done
for f in $("$ctl" --help | sed -n '/^Global options:/,/^$/p' | grep -o -- '--[a-z-]*' | sort -u); do
	grep -q -- "$f" <<<"$ctl_page" || problem "enclavectl.1: global option '$f' is not documented"
done

daemon_page=$(text enclaved.8)
for f in $("$daemon" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	grep -q -- "$f" <<<"$daemon_page" || problem "enclaved.8: option '$f' is not documented"
done
for sig in SIGTERM SIGINT SIGHUP; do
	grep -q "$sig" <<<"$daemon_page" || problem "enclaved.8: signal $sig is not documented"
done

python3 - "$top_srcdir" "$man" <<'PY' || bad=1
import re, sys, os
top, man = sys.argv[1], sys.argv[2]
page = open(os.path.join(man, "enclaved.conf.5")).read().replace("\\-", "-")
src = lambda p: open(os.path.join(top, p)).read() if os.path.exists(os.path.join(top, p)) else ""
cfg = src("enclaved/config-file.c")
problems = []
m = re.search(r"known_sections\[\]\s*=\s*\{([^}]*)\}", cfg)
sections = re.findall(r'"(\w+)"', m.group(1)) if m else []
if not sections:
    problems.append("enclaved/config-file.c: cannot find known_sections[]")
for s in sections:
    if f'.SH "[{s}]"' not in page:
        problems.append(f"enclaved.conf.5: section [{s}] is not documented")
keys = set(re.findall(r'strcmp\(key, "(\w+)"\)', cfg + src("enclaved/pool-config.c")))
for path in ("enclaved/attestation.c",):
    m = re.search(r"config_keys\[\]\s*=\s*\{([^}]*)\}", src(path))
    if m:
        keys |= set(re.findall(r'"(\w+)"', m.group(1)))
if len(keys) < 5:
    problems.append(f"found only {sorted(keys)} as config keys; has the parser changed?")
for k in sorted(keys):
    if not re.search(r'^\.BI %s " = ' % k, page, re.M):
        problems.append(f"enclaved.conf.5: key {k} is not documented (expected '.BI {k} \" = ...')")
ctl_h = src("ctl/ctl.h")
ctl_page = open(os.path.join(man, "enclavectl.1")).read()
table = ctl_page.split(".SH EXIT STATUS", 1)[-1].split(".TE", 1)[0]
codes = {int(v) for v in re.findall(r"CTL_EXIT_\w+\s*=\s*(\d+)", ctl_h)}
codes |= {int(v) for f in ("ctl/cmd_attest.c", "ctl/cmd_image.c")
          for v in re.findall(r"#define EXIT_\w+\s+(\d+)|IMG_EXIT_\w+\s*=\s*(\d+)", src(f)) for v in v if v}
for c in sorted(codes):
    if c == 10:
        c = "10+N"
    if not re.search(r"^%s\t" % re.escape(str(c)), table, re.M):
        problems.append(f"enclavectl.1: exit code {c} is not in the EXIT STATUS table")
for p in problems:
    print("docs-man:", p)
print(f"docs-man: {len(sections)} sections, {len(keys)} config keys, {len(codes)} exit codes checked")
sys.exit(1 if problems else 0)
PY
[ $bad = 0 ] && echo "docs-man: ok" || exit 1
