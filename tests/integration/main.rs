//! pitcrew's integration tests: one binary, so the library links once for every suite.
