//! The command line of `intelmqctl` as a library, so that its man pages and
//! shell completions can be generated from the same clap definitions
//! (`intelmqd-gen-docs` in the intelmqd package). The client itself is the
//! binary target (`main.rs`); this library holds only what the generator
//! needs and links no more than clap and the protocol types.

pub mod cli;
pub mod exit;
