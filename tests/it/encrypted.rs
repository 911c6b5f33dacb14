//! `pull --decryption-key`: images whose layers skopeo encrypted (ocicrypt's JWE scheme) for an RSA
//! key made by openssl.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{Env, OutputExt, assert_no_leaks, image, registry};

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An RSA key pair in `dir` (PKCS#8 private key, the form openssl 3 writes): (private, public).
fn key_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    run("openssl", &["genrsa", "-out", p(&private), "2048"]);
    run(
        "openssl",
        &["rsa", "-in", p(&private), "-pubout", "-out", p(&public)],
    );
    run("chmod", &["644", p(&private)]);
    (private, public)
}

/// busybox copied by skopeo into a fresh repository with its layers encrypted for `public`.
fn encrypted_busybox(env: &Env, public: &Path) -> String {
    let dest = format!("{}/{}/enc:v1", registry(), env.safename("r"));
    let key = format!("jwe:{}", p(public));
    run(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--encryption-key",
            &key,
            &format!("docker://{}", image("busybox")),
            &format!("docker://{dest}"),
        ],
    );
    dest
}

#[test]
fn encrypted_image_needs_its_key() {
    let env = Env::new("encrypted_image_needs_its_key");
    let (private, public) = key_pair(&env.home, "right");
    let (wrong, _) = key_pair(&env.home, "wrong");
    let img = encrypted_busybox(&env, &public);
    let pull = |code, extra: &[&str]| {
        let mut args = vec!["pull", "-q", "--tls-verify=false"];
        args.extend_from_slice(extra);
        args.push(&img);
        env.roost(code, &args)
    };
    let e = pull(125, &[]).stderr_text();
    assert!(
        e.contains("is encrypted") && e.contains("--decryption-key") && e.contains("sha256:"),
        "{e}"
    );
    let e = pull(125, &["--decryption-key", p(&wrong)]).stderr_text();
    assert!(
        e.contains("cannot decrypt layer") && e.contains("none of the given"),
        "{e}"
    );
    assert_eq!(
        env.roost(0, &["images", "-q"]).stdout_text(),
        "",
        "a failed pull left an image"
    );
    pull(
        0,
        &[
            "--decryption-key",
            p(&wrong),
            "--decryption-key",
            p(&private),
        ],
    );
    let run = env.roost(0, &["run", "--rm", &img, "echo", "decrypted"]);
    assert_eq!(run.stdout_text(), "decrypted\n");
    // Pulled by the registry's digest, it is found by that digest again (without a key).
    let out = Command::new("skopeo")
        .args(["inspect", "--format", "{{.Digest}}", "--tls-verify=false"])
        .arg(format!("docker://{img}"))
        .output()
        .expect("run skopeo");
    let digest = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let by_digest = format!("{}@{digest}", img.trim_end_matches(":v1"));
    env.roost(
        0,
        &[
            "pull",
            "-q",
            "--tls-verify=false",
            "--decryption-key",
            p(&private),
            &by_digest,
        ],
    );
    let run = env.roost(0, &["run", "--rm", &by_digest, "echo", "by-digest"]);
    assert_eq!(run.stdout_text(), "by-digest\n");
    // Stored decrypted: pushed again, it is a plain image skopeo reads without a key.
    let plain = format!("{}/{}/plain:v1", registry(), env.safename("r"));
    env.roost(0, &["push", "-q", "--tls-verify=false", &img, &plain]);
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{plain}"),
        ])
        .output()
        .expect("run skopeo");
    let raw = String::from_utf8_lossy(&out.stdout);
    assert!(
        raw.contains("tar+gzip\"") && !raw.contains("encrypted"),
        "{raw}"
    );
    assert_no_leaks(&env);
}

#[test]
fn run_decrypts_with_a_passphrase_protected_key() {
    let env = Env::new("run_decrypts_with_a_passphrase_protected_key");
    let (private, public) = key_pair(&env.home, "k");
    let protected = env.home.join("k.enc.pem");
    run(
        "openssl",
        &[
            "pkcs8",
            "-topk8",
            "-in",
            p(&private),
            "-out",
            p(&protected),
            "-passout",
            "pass:s3cret",
            "-v2",
            "aes-256-cbc",
        ],
    );
    run("chmod", &["644", p(&protected)]);
    let img = encrypted_busybox(&env, &public);
    let e = env
        .roost(
            125,
            &[
                "run",
                "--rm",
                "--tls-verify=false",
                "--decryption-key",
                p(&protected),
                &img,
                "true",
            ],
        )
        .stderr_text();
    assert!(e.contains("passphrase"), "{e}");
    let with_pass = format!("{}:s3cret", p(&protected));
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--tls-verify=false",
            "--decryption-key",
            &with_pass,
            &img,
            "echo",
            "ok",
        ],
    );
    assert!(out.stdout_text().ends_with("ok\n"), "{}", out.stdout_text());
    assert_no_leaks(&env);
}
