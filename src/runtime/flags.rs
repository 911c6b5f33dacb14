//! The built-in runtime's global flags (`--runtime-flag`, which podman passes to its OCI runtime
//! ahead of each command it runs). The built-in runtime takes none, and refuses each one where an
//! OCI runtime would: when it is asked to run a container. Commands that run no container do not
//! look at them, as in podman.

/// A flag the runtime does not know, with the exit status an OCI runtime ends with for it.
#[derive(Debug, thiserror::Error)]
#[error(
    "OCI runtime error: roost: unknown runtime flag `--{flag}` (given by --runtime-flag {flag}): the built-in runtime takes no flags"
)]
pub struct UnknownFlag {
    pub flag: String,
}

impl UnknownFlag {
    /// What the runtime exits with (crun's and runc's status for an unknown option), which a build
    /// passes on as its own.
    pub const STATUS: i32 = 1;
}

/// Check the flags given to the runtime: the first one it does not know is an error.
pub fn check(flags: &[String]) -> Result<(), UnknownFlag> {
    match flags.first() {
        Some(f) => Err(UnknownFlag {
            flag: f.trim_start_matches('-').to_string(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_is_unknown_and_named() {
        assert!(check(&[]).is_ok());
        let e = check(&["invalidflag".into(), "debug".into()]).unwrap_err();
        assert_eq!(e.flag, "invalidflag");
        assert!(e.to_string().contains("`--invalidflag`"), "{e}");
        let e = check(&["--log-format=json".into()]).unwrap_err();
        assert_eq!(e.flag, "log-format=json");
    }
}
