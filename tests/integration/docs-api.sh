#!/bin/bash
# docs/api.md must keep step with proto/enclaved.proto: every service and rpc appears (as
# `Service.Method`), every message and enum has its own `### Name` section, and each message's
# field table lists exactly the fields of the .proto (no missing, no stale ones), with the
# right type. Needs only python3; no daemon, no KVM.
set -eu
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
exec python3 - "$top_srcdir/proto/enclaved.proto" "$top_srcdir/docs/api.md" <<'PY'
import re, sys

proto_path, doc_path = sys.argv[1], sys.argv[2]
proto = re.sub(r"//[^\n]*", "", open(proto_path).read())
doc = open(doc_path).read()
problems = []

def blocks(kind):
    """(name, body) of every top-level `kind Name { ... }` (no nesting in this .proto)."""
    for m in re.finditer(r"\b%s\s+(\w+)\s*\{([^{}]*)\}" % kind, proto):
        yield m.group(1), m.group(2)

services = list(blocks("service"))
messages = list(blocks("message"))
enums = list(blocks("enum"))
if not services or not messages:
    problems.append(f"{proto_path}: found no services or messages; has the syntax changed?")

for svc, body in services:
    rpcs = re.findall(r"\brpc\s+(\w+)\s*\(\s*(\w+)\s*\)\s*returns\s*\(\s*(stream\s+)?(\w+)\s*\)", body)
    if f"## Service `{svc}`" not in doc and f"## Service {svc}" not in doc:
        problems.append(f"service {svc}: no '## Service `{svc}`' section")
    for name, req, stream, resp in rpcs:
        if f"`{svc}.{name}`" not in doc:
            problems.append(f"rpc {svc}.{name}: not documented (expected a `{svc}.{name}` heading)")
        for msg in (req, resp):
            if not re.search(r"###\s+`?%s`?\s*$" % msg, doc, re.M):
                problems.append(f"rpc {svc}.{name}: message {msg} has no section")

def section(name):
    """Text of the `### Name` section up to the next heading."""
    m = re.search(r"^###\s+`?%s`?\s*$(.*?)(?=^#{1,3}\s)" % re.escape(name), doc + "\n# end", re.M | re.S)
    return m.group(1) if m else None

for msg, body in messages:
    fields = {}
    for m in re.finditer(r"(repeated\s+)?([\w.]+)\s+(\w+)\s*=\s*\d+\s*;", body):
        fields[m.group(3)] = ("repeated " if m.group(1) else "") + m.group(2)
    text = section(msg)
    if text is None:
        problems.append(f"message {msg}: no '### {msg}' section")
        continue
    rows = {}
    for m in re.finditer(r"^\|\s*`(\w+)`\s*\|\s*`?([^|`]+?)`?\s*\|", text, re.M):
        rows[m.group(1)] = m.group(2).strip()
    for f, t in fields.items():
        if f not in rows:
            problems.append(f"message {msg}: field {f} ({t}) is missing from its table")
        elif rows[f] != t:
            problems.append(f"message {msg}: field {f} is {t} in the .proto, '{rows[f]}' in the docs")
    for f in rows:
        if f not in fields:
            problems.append(f"message {msg}: the docs list a field {f} that the .proto does not have")
    if not fields and rows:
        problems.append(f"message {msg}: the .proto has no fields but the docs list some")

for enum, body in enums:
    text = section(enum)
    if text is None:
        problems.append(f"enum {enum}: no '### {enum}' section")
        continue
    for v in re.findall(r"(\w+)\s*=\s*\d+\s*;", body):
        if f"`{v}`" not in text:
            problems.append(f"enum {enum}: value {v} is not documented")

for p in problems:
    print("docs-api:", p)
n_rpcs = sum(len(re.findall(r"\brpc\s", b)) for _, b in services)
print(f"docs-api: {len(services)} services, {n_rpcs} rpcs, {len(messages)} messages, "
      f"{len(enums)} enums checked; {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
PY
