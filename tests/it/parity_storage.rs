//! podman parity of `cp`, tmpfs and volumes (the behaviour podman's system tests 065-cp and 160-volumes
//! check): cp's path rules and wording, tmpfs copy-up, volume prune/rm/export/import/ls and the
//! tmpfs-backed and noexec volumes.

use crate::harness::{Env, OutputExt, assert_no_leaks, image};

fn write(env: &Env, name: &str, text: &str) -> String {
    let p = env.home.join(name);
    env.run_as_user(
        0,
        "sh",
        &["-c", &format!("printf '{text}' > {}", p.display())],
    );
    p.display().to_string()
}

fn read(env: &Env, name: &str) -> String {
    std::fs::read_to_string(env.home.join(name)).unwrap_or_default()
}

#[test]
fn cp_follows_podmans_path_rules() {
    let env = Env::new("cp_follows_podmans_path_rules");
    env.roost(0, &["pull", "-q", &image("busybox")]);
    let vol = env.safename("v");
    env.roost(0, &["volume", "create", &vol]);
    let created = env.safename("c");
    let src = env.safename("s");
    env.roost(
        0,
        &[
            "create",
            "--name",
            &created,
            "--workdir",
            "/tmp",
            "-v",
            &format!("{vol}:/data"),
            &image("busybox"),
            "true",
        ],
    );
    env.roost(
        0,
        &[
            "run",
            "--name",
            &src,
            &image("busybox"),
            "sh",
            "-c",
            "mkdir /d; echo inside > /d/f; ln -s /d /l",
        ],
    );
    let host = write(&env, "in.txt", "from-host\n");
    // A relative container path is from the working directory.
    env.roost(0, &["cp", &host, &format!("{created}:rel.txt")]);
    env.roost(0, &["cp", &format!("{created}:/tmp/rel.txt"), "out1"]);
    assert_eq!(read(&env, "out1"), "from-host\n");
    // Into a volume of a container that never ran.
    env.roost(0, &["cp", &host, &format!("{created}:/data/")]);
    let mp = env
        .roost(
            0,
            &["volume", "inspect", "--format", "{{.Mountpoint}}", &vol],
        )
        .stdout_text();
    assert_eq!(
        std::fs::read_to_string(format!("{}/in.txt", mp.trim())).unwrap(),
        "from-host\n"
    );
    // Container to container, and a trailing symlink followed inside the source.
    env.roost(
        0,
        &["cp", &format!("{src}:/d/f"), &format!("{created}:/tmp/x")],
    );
    env.roost(0, &["cp", &format!("{created}:/tmp/x"), "out2"]);
    assert_eq!(read(&env, "out2"), "inside\n");
    env.roost(0, &["cp", &format!("{src}:/l"), "linked"]);
    assert_eq!(read(&env, "linked/f"), "inside\n");
    // podman's wording.
    let e = env
        .roost(125, &["cp", &format!("{src}:/nope/"), "x"])
        .stderr_text();
    assert!(
        e.contains(&format!("\"/nope/\" could not be found on container {src}")),
        "{e}"
    );
    let e = env
        .roost(125, &["cp", &format!("{src}:/d"), &host])
        .stderr_text();
    assert!(
        e.contains("destination must be a directory when copying a directory"),
        "{e}"
    );
    let e = env
        .roost(125, &["cp", &format!("{src}:/tmp/*"), "x"])
        .stderr_text();
    assert!(e.contains("could not be found on container"), "{e}");
    // A file does not replace a directory unless --overwrite.
    env.run_as_user(0, "mkdir", &["-p", "ow/f"]);
    let e = env
        .roost(125, &["cp", &format!("{src}:/d/f"), "ow"])
        .stderr_text();
    assert!(
        e.contains("error creating \"/f\"") && e.contains("file exists"),
        "{e}"
    );
    env.roost(0, &["cp", "--overwrite", &format!("{src}:/d/f"), "ow"]);
    assert_eq!(read(&env, "ow/f"), "inside\n");
    env.roost(0, &["rm", "-f", "-t", "0", &created, &src]);
    env.roost(0, &["volume", "rm", &vol]);
    assert_no_leaks(&env);
}

#[test]
fn tmpfs_gets_the_image_content_unless_notmpcopyup() {
    let env = Env::new("tmpfs_gets_the_image_content_unless_notmpcopyup");
    env.roost(0, &["pull", "-q", &image("busybox")]);
    let got = env
        .roost(
            0,
            &[
                "run",
                "--rm",
                "--tmpfs",
                "/etc",
                &image("busybox"),
                "cat",
                "/etc/passwd",
            ],
        )
        .stdout_text();
    assert!(got.contains("root:"), "{got}");
    env.roost(
        1,
        &[
            "run",
            "--rm",
            "--mount",
            "type=tmpfs,dst=/etc,notmpcopyup",
            &image("busybox"),
            "cat",
            "/etc/passwd",
        ],
    );
    assert_no_leaks(&env);
}

#[test]
fn volume_verbs_as_podman() {
    let env = Env::new("volume_verbs_as_podman");
    env.roost(0, &["pull", "-q", &image("busybox")]);
    let named = env.safename("named");
    // Flags after the name are read (they are not a container's command line).
    env.roost(0, &["volume", "create", &named, "--label", "k=v"]);
    let anon = env.roost(0, &["volume", "create"]).stdout_text();
    let anon = anon.trim();
    // ls: name is a regular expression; in a template, Labels is a string.
    let names = env
        .roost(
            0,
            &[
                "volume",
                "ls",
                "--filter",
                &format!("name={}.+", &named[..named.len() - 1]),
                "--format",
                "{{.Name}} {{.Labels}}",
            ],
        )
        .stdout_text();
    assert_eq!(names.trim(), format!("{named} k=v"));
    // prune without -a: only anonymous unused volumes.
    let out = env.roost(0, &["volume", "prune", "--force"]).stdout_text();
    assert_eq!(out.trim(), anon);
    let none = env
        .roost_stdin(0, &["volume", "prune"], b"N\n")
        .stdout_text();
    assert_eq!(none.trim(), "No dangling anonymous volumes found");
    // export / import round trip.
    env.roost(
        0,
        &[
            "run",
            "--rm",
            "-v",
            &format!("{named}:/d"),
            &image("busybox"),
            "sh",
            "-c",
            "echo hello > /d/t",
        ],
    );
    env.roost(
        0,
        &[
            "volume",
            "export",
            &named,
            "--output",
            &env.home.join("v.tar").display().to_string(),
        ],
    );
    let other = env.safename("other");
    env.roost(0, &["volume", "create", &other]);
    env.roost(
        0,
        &[
            "volume",
            "import",
            &other,
            &env.home.join("v.tar").display().to_string(),
        ],
    );
    let got = env
        .roost(
            0,
            &[
                "run",
                "--rm",
                "-v",
                &format!("{other}:/d"),
                &image("busybox"),
                "cat",
                "/d/t",
            ],
        )
        .stdout_text();
    assert_eq!(got, "hello\n");
    // rm --force of a missing volume is no error.
    env.roost(1, &["volume", "rm", "bogus"]);
    env.roost(0, &["volume", "rm", "--force", "bogus", &other]);
    // A tmpfs-backed volume; the same mount twice counts once; noexec.
    let tv = env.safename("tv");
    env.roost(
        0,
        &[
            "volume",
            "create",
            "-o",
            "type=tmpfs",
            "-o",
            "device=tmpfs",
            "-o",
            "o=size=2M",
            &tv,
        ],
    );
    let fs = env
        .roost(
            0,
            &[
                "run",
                "--rm",
                "-v",
                &format!("{tv}:/t"),
                "-v",
                &format!("{tv}:/t"),
                &image("busybox"),
                "stat",
                "-f",
                "-c",
                "%T",
                "/t",
            ],
        )
        .stdout_text();
    assert_eq!(fs.trim(), "tmpfs");
    let e = env
        .roost(
            125,
            &[
                "volume",
                "create",
                "-o",
                "type=bind",
                "-o",
                "device=/bogus",
                "x",
            ],
        )
        .stderr_text();
    assert!(
        e.contains("faccessat /bogus: no such file or directory"),
        "{e}"
    );
    env.roost(
        0,
        &[
            "run",
            "--rm",
            "-v",
            &format!("{named}:/d"),
            &image("busybox"),
            "sh",
            "-c",
            "printf '#!/bin/sh\\necho ran\\n' > /d/s; chmod 755 /d/s",
        ],
    );
    env.roost(
        126,
        &[
            "run",
            "--rm",
            "-v",
            &format!("{named}:/d:noexec"),
            &image("busybox"),
            "/d/s",
        ],
    );
    env.roost(0, &["volume", "rm", &named, &tv]);
    assert_no_leaks(&env);
}

#[test]
fn chown_flag_u_leaves_owners_set_later_inside() {
    let env = Env::new("chown_flag_u_leaves_owners_set_later_inside");
    env.roost(0, &["pull", "-q", &image("busybox")]);
    let dir = env.home.join("ud");
    env.run_as_user(0, "mkdir", &[&dir.display().to_string()]);
    env.run_as_user(0, "touch", &[&dir.join("f").display().to_string()]);
    let name = env.safename("u");
    let vol = format!("{}:/d:U", dir.display());
    let first = env
        .roost(
            0,
            &[
                "run",
                "--name",
                &name,
                "--user",
                "1000:2000",
                "-v",
                &vol,
                &image("busybox"),
                "stat",
                "-c",
                "%u:%g",
                "/d/f",
            ],
        )
        .stdout_text();
    assert_eq!(first.trim(), "1000:2000");
    let f = dir.join("f").display().to_string();
    env.roost(0, &["unshare", "chown", "100:200", &f]);
    env.roost(0, &["start", "--attach", &name]);
    let now = env
        .roost(0, &["unshare", "stat", "-c", "%u:%g", &f])
        .stdout_text();
    assert_eq!(
        now.trim(),
        "100:200",
        "the second start chowned the tree again"
    );
    env.roost(0, &["rm", &name]);
    assert_no_leaks(&env);
}
