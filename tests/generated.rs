//! The committed completion scripts and man pages must be what the binary generates now.
use std::path::{Path, PathBuf};
use std::process::Command;

const REGENERATE: &str = "regenerate them with: cargo run -- generate man --out man && cargo run -- generate completions --out completions";

fn generate(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("roost-generated-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let status = Command::new(env!("CARGO_BIN_EXE_roost"))
        .args(["generate", what, "--out"])
        .arg(&dir)
        .status()
        .expect("run roost");
    assert!(status.success(), "`roost generate {what}` failed");
    dir
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(
                files(&p)
                    .into_iter()
                    .map(|f| Path::new(p.file_name().unwrap()).join(f)),
            );
        } else {
            out.push(PathBuf::from(p.file_name().unwrap()));
        }
    }
    out.sort();
    out
}

fn compare(what: &str, committed: &str) {
    let fresh = generate(what);
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join(committed);
    let (want, have) = (files(&fresh), files(&committed));
    assert_eq!(
        want,
        have,
        "the set of files in {} is stale; {REGENERATE}",
        committed.display()
    );
    for f in want {
        let a = std::fs::read(fresh.join(&f)).unwrap();
        let b = std::fs::read(committed.join(&f)).unwrap();
        assert!(
            a == b,
            "{} is stale; {REGENERATE}",
            committed.join(&f).display()
        );
    }
    let _ = std::fs::remove_dir_all(fresh);
}

#[test]
fn man_pages_are_current() {
    compare("man", "man");
}

#[test]
fn completions_are_current() {
    compare("completions", "completions");
}

#[test]
fn completion_command_prints_the_committed_script() {
    for (shell, file) in [
        ("bash", "bash/roost"),
        ("zsh", "zsh/_roost"),
        ("fish", "fish/roost.fish"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_roost"))
            .args(["completion", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let committed = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("completions")
                .join(file),
        )
        .unwrap();
        assert_eq!(
            out.stdout, committed,
            "completions/{file} is stale; {REGENERATE}"
        );
    }
}
