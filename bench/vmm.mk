# bench programs of the vmm module
