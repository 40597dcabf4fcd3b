//! pitcrew's command language and the names it is made of, as a crate of its own: pure (no
//! I/O, no clock, no configuration), with only the dependencies parsing needs, so that the
//! fuzz targets and anything else that parses build it without the service's dependencies
//! (kube, sqlx, Slack's client). pitcrew re-exports both modules as `pitcrew::command` and
//! `pitcrew::names`; see ARCHITECTURE.md.

pub mod command;
pub mod names;
pub mod suggest;
