//! The proc-macro's integration tests, one module per area.

mod generated;
mod guide;
mod names;
mod ui;
