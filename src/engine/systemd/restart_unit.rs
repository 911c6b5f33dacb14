//! `roost-restart.service`: the user unit that starts `--restart=always|unless-stopped` containers
//! when the user's systemd starts (podman's `podman-restart.service`). roost has no daemon that
//! could do it, and a reboot ends every monitor.
use std::path::{Path, PathBuf};

use crate::engine::EngineError;

/// The unit's file name.
pub const NAME: &str = "roost-restart.service";

/// The unit as shipped (`share/systemd/user/`), naming `/usr/bin/roost`.
const SHIPPED: &str = include_str!("../../../share/systemd/user/roost-restart.service");

/// The unit for the roost at `executable` (a `cargo install`ed roost is not in /usr/bin).
pub fn text(executable: &Path) -> String {
    let exe = super::escape::systemd_arg(&executable.display().to_string());
    SHIPPED.replace("/usr/bin/roost ", &format!("{exe} "))
}

/// Where the user's systemd finds it: `$XDG_CONFIG_HOME/systemd/user/roost-restart.service`.
pub fn user_path(config_home: &Path) -> PathBuf {
    config_home.join("systemd").join("user").join(NAME)
}

/// Write the unit for `executable` into the user's unit directory (atomically); returns its path.
pub fn install(config_home: &Path, executable: &Path) -> Result<PathBuf, EngineError> {
    let path = user_path(config_home);
    let dir = path.parent().expect("the unit path has a directory");
    std::fs::create_dir_all(dir).map_err(|e| EngineError::io("create", dir, e))?;
    let tmp = dir.join(format!(".{NAME}.tmp"));
    std::fs::write(&tmp, text(executable)).map_err(|e| EngineError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| EngineError::io("rename", &path, e))?;
    Ok(path)
}

/// Remove the installed unit; whether there was one.
pub fn remove(config_home: &Path) -> Result<bool, EngineError> {
    let path = user_path(config_home);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(EngineError::io("remove", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_running_roost() {
        let t = text(Path::new("/home/u/.cargo/bin/roost"));
        assert!(t.contains("\nExecStart=/home/u/.cargo/bin/roost $LOGGING start --all --filter restart-policy=always --filter restart-policy=unless-stopped\n"));
        assert!(t.contains("\nExecStop=/home/u/.cargo/bin/roost $LOGGING stop --all --filter restart-policy=always\n"));
        assert!(!t.contains("/usr/bin/roost $"));
        assert!(t.contains("\nWantedBy=default.target\n"));
    }
}
