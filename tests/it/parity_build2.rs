//! More of podman's 070-build: ignore-file exceptions that reach only into excluded directories they
//! name, ADD of xz and bzip2 archives (into the image root too), `--default-mounts-file`
//! (containers-mounts.conf(5)) for RUN steps and containers, buildah's `io.buildah.version` label,
//! host proxy variables over the image's, `run --volumes-from`, and `image tree`.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::build::{context, own_tree};
use crate::harness::{Env, OutputExt, assert_no_leaks, image};
use crate::store::pull;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Give `path` (not below it) to the test user.
fn own(env: &Env, path: &Path) {
    let u = env.user();
    if u.switch {
        std::os::unix::fs::chown(path, Some(u.uid), Some(u.gid)).unwrap();
    }
}

fn run_out(env: &Env, args: &[&str]) -> String {
    let mut argv = vec!["run", "--rm"];
    argv.extend_from_slice(args);
    env.roost(0, &argv).stdout_text()
}

#[test]
fn ignore_exceptions_reach_only_into_excluded_dirs_they_name() {
    let env = Env::new("ignore_exceptions_reach_only_into_excluded_dirs_they_name");
    pull(&env, "busybox");
    let df = format!("FROM {}\nCOPY ./ /ctx/\n", image("busybox"));
    let mut files = vec![("Containerfile", df.as_str())];
    let names = [
        "test1",
        "test2",
        "subdir1/sub1",
        "subdir1/sub2",
        "subdir1/sub3",
        "subdir2/sub1",
        "subdir2/sub3",
        "foo",
        "other",
    ];
    files.extend(names.iter().map(|n| (*n, "x")));
    let dir = context(&env, &files);
    // podman's "COPY with ignore": `subdir1` is walked (`!subdir1/sub3*` names a path in it),
    // `subdir2` is not, so `!*/sub1*` brings back subdir1/sub1 but not subdir2/sub1.
    let ignore = dir.join("ignoreme");
    fs::write(
        &ignore,
        "# comment\ntest*\n!test2*\nsubdir1\nsubdir2\n!*/sub1*\n!subdir1/sub3*\n/foo\n",
    )
    .unwrap();
    own_tree(&env, &dir);
    let tag = env.safename("ign");
    env.roost(
        0,
        &["build", "-t", &tag, "--ignorefile", s(&ignore), s(&dir)],
    );
    let out = run_out(
        &env,
        &[&tag, "sh", "-c", "cd /ctx && find . -type f | sort"],
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "./Containerfile",
            "./ignoreme",
            "./other",
            "./subdir1/sub1",
            "./subdir1/sub3",
            "./test2"
        ],
        "{out}"
    );
    env.roost(0, &["rmi", &tag]);
    assert_no_leaks(&env);
}

/// A tar with `subtest/NAME` holding `content`.
fn tar_of(name: &str, content: &str) -> Vec<u8> {
    let mut tb = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    tb.append_data(&mut h, format!("subtest/{name}"), content.as_bytes())
        .unwrap();
    tb.into_inner().unwrap()
}

#[test]
fn add_unpacks_xz_and_bzip2_archives_also_into_the_root() {
    let env = Env::new("add_unpacks_xz_and_bzip2_archives_also_into_the_root");
    pull(&env, "busybox");
    let mut xz = xz2::write::XzEncoder::new(Vec::new(), 1);
    xz.write_all(&tar_of("from-xz", "xz content\n")).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(&tar_of("from-bz2", "bz2 content\n")).unwrap();
    let df = format!(
        "FROM {}\nADD a.tar.xz /\nADD b.tar.bz2 a.tar.xz /opt/\n",
        image("busybox")
    );
    let dir = context(&env, &[("Containerfile", &df)]);
    fs::write(dir.join("a.tar.xz"), xz.finish().unwrap()).unwrap();
    fs::write(dir.join("b.tar.bz2"), bz.finish().unwrap()).unwrap();
    own_tree(&env, &dir);
    let tag = env.safename("arch");
    env.roost(0, &["build", "-q", "-t", &tag, s(&dir)]);
    let out = run_out(
        &env,
        &[
            &tag,
            "sh",
            "-c",
            "cat /subtest/from-xz; ls /opt/subtest; ls / | grep -c tar || true",
        ],
    );
    // Both archives unpacked into /opt (neither replaces the other), none copied as a file.
    assert_eq!(out, "xz content\nfrom-bz2\nfrom-xz\n0\n");
    env.roost(0, &["rmi", &tag]);
    assert_no_leaks(&env);
}

#[test]
fn default_mounts_file_copies_host_paths_into_run_steps_and_containers() {
    let env = Env::new("default_mounts_file_copies_host_paths_into_run_steps_and_containers");
    pull(&env, "busybox");
    let secrets = env.home.join("secrets");
    fs::create_dir_all(&secrets).unwrap();
    fs::write(secrets.join("token"), "shhh\n").unwrap();
    let conf = env.home.join("mounts.conf");
    fs::write(
        &conf,
        format!(
            "# host:container\n{}:/run/secrets\n/no/such/dir:/nothing\n",
            secrets.display()
        ),
    )
    .unwrap();
    own_tree(&env, &secrets);
    own(&env, &conf);
    let flag = format!("--default-mounts-file={}", conf.display());
    let df = format!(
        "FROM {}\nRUN cat /run/secrets/token && echo changed > /run/secrets/token\n",
        image("busybox")
    );
    let dir = context(&env, &[("Containerfile", &df)]);
    let tag = env.safename("dm");
    let out = env
        .roost(0, &[&flag, "build", "-t", &tag, s(&dir)])
        .stdout_text();
    assert!(out.contains("shhh"), "{out}");
    // The copy is the container's: the host file is untouched, and the layer has none of it.
    assert_eq!(fs::read_to_string(secrets.join("token")).unwrap(), "shhh\n");
    let out = run_out(&env, &[&tag, "sh", "-c", "ls /run/secrets 2>&1; true"]);
    assert!(out.contains("No such file"), "{out}");
    let out = run_out(
        &env,
        &[
            &tag,
            "sh",
            "-c",
            "cat /run/secrets/token; ls /nothing 2>&1; true",
        ],
    );
    assert!(out.contains("No such file"), "{out}");
    let mut argv = vec![flag.as_str(), "run", "--rm", &tag];
    argv.extend([
        "sh",
        "-c",
        "cat /run/secrets/token; echo x > /run/secrets/new",
    ]);
    assert_eq!(env.roost(0, &argv).stdout_text(), "shhh\n");
    assert!(!secrets.join("new").exists());
    // A line that is not HOST:CONTAINER is an error naming the file.
    fs::write(&conf, "relative:/run/secrets\n").unwrap();
    let err = env
        .roost(125, &[&flag, "run", "--rm", &tag, "true"])
        .stderr_text();
    assert!(
        err.contains("mounts.conf") && err.contains("relative:/run/secrets"),
        "{err}"
    );
    env.roost(0, &["rmi", &tag]);
    assert_no_leaks(&env);
}

#[test]
fn built_images_carry_the_identity_label_and_proxies_pass_over_the_image() {
    let env = Env::new("built_images_carry_the_identity_label_and_proxies_pass_over_the_image");
    pull(&env, "busybox");
    let df = format!("FROM {}\nENV ftp_proxy=from-image\n", image("busybox"));
    let dir = context(&env, &[("Containerfile", &df)]);
    let tag = env.safename("id");
    env.roost(0, &["build", "-q", "-t", &tag, s(&dir)]);
    let version = env
        .roost(0, &["info", "--format", "{{.Host.BuildahVersion}}"])
        .stdout_text();
    let label = env
        .roost(
            0,
            &[
                "image",
                "inspect",
                "--format",
                "{{index .Labels \"io.buildah.version\"}}",
                &tag,
            ],
        )
        .stdout_text();
    assert_eq!(label.trim(), version.trim());
    let bare = env.safename("bare");
    env.roost(
        0,
        &[
            "build",
            "-q",
            "--identity-label=false",
            "-t",
            &bare,
            s(&dir),
        ],
    );
    let labels = env
        .roost(0, &["image", "inspect", "--format", "{{.Labels}}", &bare])
        .stdout_text();
    assert!(!labels.contains("io.buildah.version"), "{labels}");
    // The caller's proxy variables win over the image's; --env over both.
    let mut cmd = env.roost_cmd(&["run", "--rm", &tag, "sh", "-c", "echo $ftp_proxy"]);
    cmd.env("ftp_proxy", "from-host");
    assert_eq!(env.run_cmd(cmd, 0).stdout_text(), "from-host\n");
    let mut cmd = env.roost_cmd(&[
        "run",
        "--rm",
        "-e",
        "ftp_proxy=flag",
        &tag,
        "sh",
        "-c",
        "echo $ftp_proxy",
    ]);
    cmd.env("ftp_proxy", "from-host");
    assert_eq!(env.run_cmd(cmd, 0).stdout_text(), "flag\n");
    env.roost(0, &["rmi", &tag, &bare]);
    assert_no_leaks(&env);
}

#[test]
fn volumes_from_shares_another_containers_volumes_and_binds() {
    let env = Env::new("volumes_from_shares_another_containers_volumes_and_binds");
    pull(&env, "busybox");
    let df = format!("FROM {}\nVOLUME /vol\n", image("busybox"));
    let dir = context(&env, &[("Containerfile", &df)]);
    let tag = env.safename("vf");
    env.roost(0, &["build", "-q", "-t", &tag, s(&dir)]);
    let host = env.home.join("shared");
    fs::create_dir_all(&host).unwrap();
    own(&env, &host);
    let src = env.safename("src");
    let bind = format!("{}:/host", host.display());
    env.roost(
        0,
        &[
            "run",
            "--name",
            &src,
            "-v",
            &bind,
            &tag,
            "sh",
            "-c",
            "echo data > /vol/f",
        ],
    );
    let bb = image("busybox");
    // The anonymous volume and the bind, at their places, writable as they are there.
    let out = run_out(
        &env,
        &[
            "--volumes-from",
            &src,
            &bb,
            "sh",
            "-c",
            "cat /vol/f; echo more > /host/g",
        ],
    );
    assert_eq!(out, "data\n");
    assert_eq!(fs::read_to_string(host.join("g")).unwrap(), "more\n");
    // `ro` makes them read-only here; the source container's volume survives the --rm.
    let out = run_out(
        &env,
        &[
            "--volumes-from",
            &format!("{src}:ro"),
            &bb,
            "sh",
            "-c",
            "touch /vol/x 2>&1; cat /vol/f",
        ],
    );
    assert!(
        out.contains("Read-only file system") && out.ends_with("data\n"),
        "{out}"
    );
    // The new container's own mount at the same place wins.
    let out = run_out(
        &env,
        &["--volumes-from", &src, "--tmpfs", "/vol", &bb, "ls", "/vol"],
    );
    assert_eq!(out, "");
    let err = env
        .roost(
            125,
            &[
                "run",
                "--rm",
                "--volumes-from",
                &format!("{src}:nocopy"),
                &bb,
                "true",
            ],
        )
        .stderr_text();
    assert!(
        err.contains("invalid options \"nocopy\", can only specify 'ro', 'rw', and 'z'"),
        "{err}"
    );
    let err = env
        .roost(
            125,
            &["run", "--rm", "--volumes-from", "no-such-ctr", &bb, "true"],
        )
        .stderr_text();
    assert!(err.contains("no-such-ctr"), "{err}");
    env.roost(0, &["rm", "-v", &src]);
    env.roost(0, &["rmi", &tag]);
    assert_no_leaks(&env);
}

#[test]
fn image_tree_shows_layers_and_what_requires_them() {
    let env = Env::new("image_tree_shows_layers_and_what_requires_them");
    pull(&env, "busybox");
    let bb = image("busybox");
    let df = format!("FROM {bb}\nRUN echo one > /one\nRUN echo two > /two\n");
    let dir = context(&env, &[("Containerfile", &df)]);
    let tag = env.safename("tree");
    let id = env
        .roost(0, &["build", "-q", "-t", &tag, s(&dir)])
        .stdout_text();
    let out = env.roost(0, &["image", "tree", &tag]).stdout_text();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("Image ID: {}", &id.trim()[..12]), "{out}");
    assert_eq!(
        lines[1],
        format!("Tags:     [localhost/{tag}:latest]"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("Size:     ") && lines[2].ends_with("MB"),
        "{out}"
    );
    assert_eq!(lines[3], "Image Layers", "{out}");
    // busybox's one layer, then the two RUN layers, the last topping the new image.
    assert_eq!(lines.len(), 7, "{out}");
    assert!(lines[4].starts_with("├── ID: "), "{out}");
    assert!(lines[4].contains(&format!("Top Layer of: [{bb}")), "{out}");
    assert!(!lines[5].contains("Top Layer"), "{out}");
    assert!(
        lines[6].starts_with("└── ID: ")
            && lines[6].ends_with(&format!(" Top Layer of: [localhost/{tag}:latest]")),
        "{out}"
    );
    let out = env
        .roost(0, &["image", "tree", "--whatrequires", &bb])
        .stdout_text();
    assert!(
        out.lines()
            .any(|l| l.ends_with(&format!(" Top Layer of: [localhost/{tag}:latest]"))),
        "{out}"
    );
    let err = env
        .roost(125, &["image", "tree", "no-such-image"])
        .stderr_text();
    assert!(err.contains("no-such-image: image not known"), "{err}");
    env.roost(0, &["rmi", &tag]);
    assert_no_leaks(&env);
}

#[test]
fn runtime_flags_are_refused_by_the_runtime_when_it_runs_a_container() {
    let env = Env::new("runtime_flags_are_refused_by_the_runtime_when_it_runs_a_container");
    pull(&env, "busybox");
    let bb = image("busybox");
    // Commands that run no container do not use the runtime, nor its flags.
    env.roost(0, &["--runtime-flag", "invalidflag", "ps"]);
    env.roost(
        0,
        &["--runtime-flag", "invalidflag", "image", "exists", &bb],
    );
    // A build runs the runtime for RUN steps only, and ends with the runtime's status (podman: 1).
    let df = format!("FROM {bb}\nRUN echo ran\n");
    let dir = context(&env, &[("Containerfile", &df)]);
    let tag = env.safename("rf");
    let out = env.roost(
        1,
        &[
            "--runtime-flag",
            "invalidflag",
            "build",
            "-t",
            &tag,
            s(&dir),
        ],
    );
    let err = out.stderr_text();
    assert!(
        err.contains("building at STEP \"RUN echo ran\"") && err.contains("`--invalidflag`"),
        "{err}"
    );
    let stdout = out.stdout_text();
    assert!(
        !stdout.lines().any(|l| l == "ran"),
        "the step must not run: {stdout}"
    );
    env.roost(1, &["image", "exists", &tag]);
    // run: podman's status for an OCI runtime error.
    let err = env
        .roost(
            126,
            &["--runtime-flag=log-format=json", "run", "--rm", &bb, "true"],
        )
        .stderr_text();
    assert!(err.contains("`--log-format=json`"), "{err}");
    assert_no_leaks(&env);
}
