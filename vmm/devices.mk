# virtio devices (vsock, nsm): sources added to the enclave-vmm target and tests
noinst_LIBRARIES += vmm/libvsock.a
vmm_libvsock_a_SOURCES = vmm/vsock_packet.c vmm/vsock_packet.h vmm/vsock_conn.c vmm/vsock_conn.h \
	vmm/vsock_bridge.c vmm/vsock_bridge.h vmm/vsock_mux.c vmm/vsock_mux.h vmm/vsock_rx.c \
	vmm/vsock_host.c vmm/vsock_mux_internal.h vmm/heartbeat.c vmm/heartbeat.h
vmm_enclave_vmm_LDADD += vmm/libvsock.a
