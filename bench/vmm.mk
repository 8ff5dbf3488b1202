# bench programs of the vmm module
EXTRA_DIST += bench/vmm-memory.sh
