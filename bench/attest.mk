# bench programs of the attest module
