# bench programs of the pool module
