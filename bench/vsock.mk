# bench programs of the vsock module
