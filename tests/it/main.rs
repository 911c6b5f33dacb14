//! roost's integration tests: one binary, one module per area (see tests/it/harness.rs and
//! STYLE.md "Test pyramid"). Run them with `sudo tests/run`; they need the world built by
//! `tests/world.sh` and fail (never skip) without it.

mod harness;
mod store;

mod archives;
mod attach;
mod auth;
mod auto_update;
mod basics;
mod build;
mod cgroups;
mod client_flags;
mod clients;
mod completion;
mod compose_cmd;
mod container_fs;
mod containers;
mod doctor;
mod events;
mod exec;
mod faults;
mod generate_systemd;
mod health;
mod hostile;
mod images;
mod kube;
mod login;
mod misc;
mod monitor;
mod network;
mod networks;
mod parity_cli;
mod parity_storage;
mod podman_cli;
mod pods;
mod pods_more;
mod privacy;
mod proc_view;
mod pull;
mod push;
mod quadlet;
mod remove;
mod restart_unit;
mod secrets;
mod security;
mod storage;
mod tag_rmi;
mod userns;
mod volumes;
