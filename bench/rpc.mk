# bench programs of the rpc module
