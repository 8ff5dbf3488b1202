# attest
