//! pitcrew's integration tests: one binary, so the library links once for every suite.
//! Run them all with `scripts/test.sh`, which starts the real cluster and PostgreSQL.

#[path = "../common/mod.rs"]
mod common;

mod actions;
mod actions_edges;
mod actions_pause;
mod actions_scale;
mod approvers;
mod argo_rollouts;
mod audit;
mod cli;
mod conformance;
mod deploy;
mod drift;
mod exec;
mod faults;
mod freeze;
mod gitops;
mod helm;
mod hostile;
mod impersonation;
mod justify;
mod listener;
mod parse_props;
mod parse_table;
mod policy;
mod policy_differential;
mod promote;
mod protected;
mod replicas;
mod serve;
mod siem;
mod siem_https;
mod slack;
mod socket_mode;
mod storage;
mod testenv;
mod tidy;
