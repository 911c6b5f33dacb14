//! Container file-system verbs: commit, diff, export, cp (including hostile symlinks).

use std::path::Path;

use crate::harness::{Env, OutputExt, assert_no_leaks, image};

/// Pull busybox and leave a stopped container that added /hello, removed /bin/wget and made two
/// symlinks that point out of its root.
fn prepared(env: &Env) -> String {
    let name = env.safename("c1");
    env.roost(0, &["pull", "-q", &image("busybox")]);
    env.roost(
        0,
        &[
            "run",
            "--name",
            &name,
            &image("busybox"),
            "sh",
            "-c",
            "echo hi > /hello; rm /bin/wget; ln -s / /escape; ln -s ../../../../etc /up",
        ],
    );
    name
}

fn tar_names(tar: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .expect("entries")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .display()
                .to_string()
        })
        .collect()
}

#[test]
fn commit_keeps_changes_and_applies_changes_flags() {
    let env = Env::new("commit_keeps_changes_and_applies_changes_flags");
    let c = prepared(&env);
    let img = env.safename("img");
    let out = env.roost(0, &["commit", "-q", "-c", r#"CMD ["echo","x"]"#, &c, &img]);
    assert_eq!(out.stdout_text().trim().len(), 64, "{}", out.stdout_text());
    let hello = env.roost(0, &["run", "--rm", &img, "cat", "/hello"]);
    assert_eq!(hello.stdout_text(), "hi\n");
    env.roost(1, &["run", "--rm", &img, "ls", "/bin/wget"]);
    let cmd = env.roost(0, &["run", "--rm", &img]);
    assert_eq!(cmd.stdout_text(), "x\n");
    env.roost(0, &["rm", &c]);
    assert_no_leaks(&env);
}

#[test]
fn diff_lists_added_and_deleted() {
    let env = Env::new("diff_lists_added_and_deleted");
    let c = prepared(&env);
    let lines = env.roost(0, &["diff", &c]).stdout_lines();
    for want in ["A /hello", "D /bin/wget", "C /bin"] {
        assert!(lines.iter().any(|l| l == want), "no `{want}` in {lines:?}");
    }
    let mut sorted = lines.clone();
    sorted.sort_by(|a, b| a[2..].cmp(&b[2..]));
    assert_eq!(lines, sorted, "paths are sorted");
    let json = env.roost(0, &["container", "diff", "--format", "json", &c]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert!(v["added"].as_array().unwrap().iter().any(|p| p == "/hello"));
    assert!(
        v["deleted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "/bin/wget")
    );
    env.roost(0, &["rm", &c]);
}

#[test]
fn export_flattens_the_file_system() {
    let env = Env::new("export_flattens_the_file_system");
    let c = prepared(&env);
    let out = env.roost(0, &["export", &c]);
    let names = tar_names(&out.stdout);
    assert!(names.iter().any(|n| n == "hello"), "{names:?}");
    assert!(names.iter().any(|n| n == "bin/sh"), "{names:?}");
    assert!(!names.iter().any(|n| n == "bin/wget"), "{names:?}");
    let file = env.home.join("c.tar");
    env.roost(0, &["export", "-o", file.to_str().unwrap(), &c]);
    assert_eq!(std::fs::read(&file).expect("read export"), out.stdout);
    env.roost(0, &["rm", &c]);
}

#[test]
fn cp_out_and_in() {
    let env = Env::new("cp_out_and_in");
    let c = prepared(&env);
    env.roost(0, &["cp", &format!("{c}:/hello"), "got"]);
    assert_eq!(
        std::fs::read_to_string(env.home.join("got")).unwrap(),
        "hi\n"
    );
    // A directory into an existing directory lands under its own name; `/.` copies the contents.
    env.run_as_user(0, "mkdir", &["d1", "d2"]);
    env.roost(0, &["cp", &format!("{c}:/etc"), "d1"]);
    assert!(env.home.join("d1/etc/passwd").is_file());
    env.roost(0, &["cp", &format!("{c}:/etc/."), "d2"]);
    assert!(env.home.join("d2/passwd").is_file());
    // Into the container, then back out as a tar stream.
    env.run_as_user(0, "sh", &["-c", "echo from-host > in.txt"]);
    env.roost(0, &["cp", "in.txt", &format!("{c}:/tmp/")]);
    let tar = env
        .roost(0, &["cp", &format!("{c}:/tmp/in.txt"), "-"])
        .stdout;
    assert_eq!(tar_names(&tar), ["in.txt"]);
    // A tar stream into the container.
    env.roost_stdin(0, &["cp", "-", &format!("{c}:/")], &tar);
    let back = env.roost(0, &["cp", &format!("{c}:/in.txt"), "back.txt"]);
    assert!(back.status.success());
    assert_eq!(
        std::fs::read_to_string(env.home.join("back.txt")).unwrap(),
        "from-host\n"
    );
    let lines = env.roost(0, &["diff", &c]).stdout_lines();
    assert!(lines.iter().any(|l| l == "A /tmp/in.txt"), "{lines:?}");
    env.roost(0, &["rm", &c]);
    assert_no_leaks(&env);
}

#[test]
fn cp_resolves_symlinks_inside_the_container() {
    let env = Env::new("cp_resolves_symlinks_inside_the_container");
    let c = prepared(&env);
    // /escape -> / : the container's /etc/hostname (an empty placeholder), not the host's.
    env.roost(0, &["cp", &format!("{c}:/escape/etc/hostname"), "out"]);
    let got = std::fs::read(env.home.join("out")).unwrap();
    let host = std::fs::read("/etc/hostname").unwrap_or_default();
    assert!(
        host.is_empty() || got != host,
        "read the host's /etc/hostname"
    );
    env.roost(0, &["cp", &format!("{c}:/escape/hello"), "out2"]);
    assert_eq!(
        std::fs::read_to_string(env.home.join("out2")).unwrap(),
        "hi\n"
    );
    // /up -> ../../../../etc : stays the container's /etc.
    let evil = format!("evil-{}", env.safename("x"));
    env.run_as_user(0, "sh", &["-c", &format!("echo evil > {evil}")]);
    env.roost(0, &["cp", &evil, &format!("{c}:/up/{evil}")]);
    assert!(
        !Path::new("/etc").join(&evil).exists(),
        "wrote into the host's /etc"
    );
    let lines = env.roost(0, &["diff", &c]).stdout_lines();
    assert!(
        lines.iter().any(|l| *l == format!("A /etc/{evil}")),
        "{lines:?}"
    );
    env.roost(0, &["rm", &c]);
    assert_no_leaks(&env);
}

#[test]
fn cp_into_a_running_container_goes_through_its_root() {
    let env = Env::new("cp_into_a_running_container_goes_through_its_root");
    env.roost(0, &["pull", "-q", &image("busybox")]);
    env.run_as_user(0, "sh", &["-c", "echo from-host > in.txt"]);
    for extra in [&[][..], &["--init"][..]] {
        let c = env.safename(if extra.is_empty() { "plain" } else { "init" });
        let mut args = vec!["run", "-d", "--name", &c, "--tmpfs", "/scratch"];
        args.extend_from_slice(extra);
        let img = image("busybox");
        args.extend_from_slice(&[
            &img,
            "sh",
            "-c",
            "ln -s / /escape; ln -s ../../../etc /up; sleep 300",
        ]);
        env.roost(0, &args);
        // Into the container's own tmpfs mount: only its live root has it (the storage has an empty
        // /scratch directory under it).
        env.roost(0, &["cp", "in.txt", &format!("{c}:/scratch/")]);
        let got = env
            .roost(0, &["exec", &c, "cat", "/scratch/in.txt"])
            .stdout_text();
        assert_eq!(got, "from-host\n");
        // Into the overlay: visible to the container at once.
        env.roost(0, &["cp", "in.txt", &format!("{c}:/tmp/x.txt")]);
        let got = env
            .roost(0, &["exec", &c, "cat", "/tmp/x.txt"])
            .stdout_text();
        assert_eq!(got, "from-host\n");
        // Symlinks are resolved in the container's root (CVE-2018-15664).
        let evil = format!("evil-{}", env.safename("r"));
        env.run_as_user(0, "sh", &["-c", &format!("echo evil > {evil}")]);
        env.roost(0, &["cp", &evil, &format!("{c}:/up/{evil}")]);
        env.roost(0, &["cp", &evil, &format!("{c}:/escape/tmp/{evil}")]);
        assert!(
            !Path::new("/etc").join(&evil).exists(),
            "wrote into the host's /etc"
        );
        assert!(
            !Path::new("/tmp").join(&evil).exists(),
            "wrote into the host's /tmp"
        );
        env.roost(0, &["exec", &c, "test", "-f", &format!("/etc/{evil}")]);
        env.roost(0, &["exec", &c, "test", "-f", &format!("/tmp/{evil}")]);
        // And back out of the tmpfs.
        let back = env
            .roost(0, &["cp", &format!("{c}:/scratch/in.txt"), "-"])
            .stdout;
        assert_eq!(tar_names(&back), ["in.txt"]);
        env.roost(0, &["rm", "-f", "-t", "0", &c]);
    }
    assert_no_leaks(&env);
}

#[test]
fn mount_works_inside_unshare_only() {
    let env = Env::new("mount_works_inside_unshare_only");
    let c = prepared(&env);
    // podman's rootless rule: only inside `unshare`, where the mount can be seen.
    let err = env.roost(125, &["mount", &c]).stderr_text();
    assert!(
        err.contains("cannot run command \"roost mount\" in rootless mode, must execute `roost unshare` first"),
        "{err}"
    );
    env.roost(125, &["umount", &c]);
    let id = env
        .roost(0, &["inspect", "--format", "{{.Id}}", &c])
        .stdout_text()
        .trim()
        .to_string();
    let script = format!(
        "set -e; p=$(roost mount {c}); echo path=$p; cat $p/hello; echo added > $p/added; \
         roost mount; test \"$(roost mount {c})\" = \"$p\"; roost umount {c}; \
         test ! -e $p/hello; roost mount"
    );
    let bin_dir = crate::harness::roost_bin()
        .parent()
        .unwrap()
        .display()
        .to_string();
    let script = format!("PATH={bin_dir}:$PATH; {script}");
    let out = env
        .roost(0, &["unshare", "sh", "-c", &script])
        .stdout_text();
    let merged = env.data.join("roost/containers").join(&id).join("merged");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            format!("path={}", merged.display()).as_str(),
            "hi",
            format!("{} {}", &id[..12], merged.display()).as_str(),
            id.as_str(),
        ],
        "{out}"
    );
    // What was written through the mount is the container's.
    let diff = env.roost(0, &["diff", &c]).stdout_lines();
    assert!(diff.iter().any(|l| l == "A /added"), "{diff:?}");
    // A running container is mounted already: its own root.
    let r = env.safename("r");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &r,
            &image("busybox"),
            "sh",
            "-c",
            "echo live > /live; echo ready; sleep 300",
        ],
    );
    assert!(
        crate::harness::wait_for(std::time::Duration::from_secs(10), || env
            .roost(0, &["logs", &r])
            .stdout_text()
            == "ready\n"),
        "the container never wrote /live"
    );
    let script = format!("PATH={bin_dir}:$PATH; cat $(roost mount {r})/live; roost mount | wc -l");
    let out = env
        .roost(0, &["unshare", "sh", "-c", &script])
        .stdout_text();
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["live", "1"],
        "{out}"
    );
    env.roost(0, &["rm", "-f", "-t", "0", &r]);
    env.roost(0, &["rm", &c]);
    assert_no_leaks(&env);
}
