# docs (see docs/README.md)
