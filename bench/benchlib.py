"""Shared by the python of bench/*.sh (bench/lib.sh puts bench/ on PYTHONPATH): the
RESULTS.md row rule and the QEMU microvm reference command."""
import os


def row_label(row):
    """A row is owned through its leading label: '| label |'."""
    return row.split(" | ")[0] + " |"


def update_rows(results, rows):
    """Each row replaces the first line that starts with its label (later ones are dropped);
    rows whose label is absent are appended."""
    lines = open(results).read().splitlines() if os.path.exists(results) else []
    by_label = {row_label(r): r for r in rows}
    out, seen = [], set()
    for line in lines:
        label = next((k for k in by_label if line.startswith(k)), None)
        if label is None:
            out.append(line)
        elif label not in seen:
            out.append(by_label[label])
            seen.add(label)
    out += [r for k, r in by_label.items() if k not in seen]
    with open(results, "w") as f:
        f.write("\n".join(out) + "\n")


def qemu_microvm(kernel, mem_mib=64, memfd=False, append="console=ttyS0"):
    """QEMU microvm booting an ELF with -kernel (PVH), COM1 on stdout: the reference VMM."""
    machine = "microvm,x-option-roms=off,isa-serial=on,rtc=off"
    cmd = ["qemu-system-x86_64", "-M", machine + (",memory-backend=mem" if memfd else "")]
    if memfd:
        cmd += ["-object", f"memory-backend-memfd,id=mem,size={mem_mib}M"]
    cmd += ["-enable-kvm", "-cpu", "qemu64", "-m", str(mem_mib), "-nodefaults",
            "-no-user-config", "-display", "none", "-monitor", "none", "-serial", "stdio",
            "-kernel", kernel]
    if append:
        cmd += ["-append", append]
    return cmd
