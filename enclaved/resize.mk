# Live memory resize in the daemon (enclaved/enclave-resize.h, enclaved/pool-hotplug.h).
enclaved_libpool_a_SOURCES += enclaved/pool-hotplug.c enclaved/pool-hotplug.h
enclaved_libenclaved_a_SOURCES += enclaved/api_resize.c enclaved/enclave-resize.h
