"""Real-browser tests (run by `make browser-test`, skipped by `make test`)."""
