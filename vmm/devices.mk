# virtio devices (vsock, nsm): sources added to the enclave-vmm target and tests
