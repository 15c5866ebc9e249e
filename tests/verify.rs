//! gatehouse-verify tests (see the verify issue).
