//! `build` as podman's system tests (070-build, 075-exec, 060-mount) expect it: podman's flags
//! (`buildx`, `--pull-never`, `--authfile`, `--logfile`, `--ignorefile`, `--ulimit`,
//! `--security-opt`, `BUILDAH_LAYERS`), podman's error wording, hard links kept by COPY, relative
//! VOLUMEs, and containers.conf's `[containers] mounts` and `[engine] runtime`.

use std::fs;
use std::path::Path;

use crate::build::{context, own_tree};
use crate::harness::{Env, OutputExt, image};
use crate::store::pull;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn build_refuses_bad_input_in_podman_words() {
    let env = Env::new("build_refuses_bad_input_in_podman_words");
    let dir = context(&env, &[("Dockerfile", "FROM scratch\n")]);
    let err = env
        .roost(125, &["build", "--squash", "--squash-all", s(&dir)])
        .stderr_text();
    assert!(
        err.contains("Error: cannot specify --squash-all with --squash"),
        "{err}"
    );
    let err = env
        .roost(
            125,
            &["build", "--authfile=/tmp/roost-no-such-authfile", s(&dir)],
        )
        .stderr_text();
    assert!(
        err.contains("/tmp/roost-no-such-authfile: no such file or directory"),
        "{err}"
    );
    let err = env
        .roost(125, &["build", "-f", "Containerfile2", s(&dir)])
        .stderr_text();
    assert!(
        err.contains("Containerfile2: no such file or directory"),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");
    let empty = context(&env, &[("foofile", "FROM scratch\n")]);
    let err = env.roost(125, &["build", s(&empty)]).stderr_text();
    assert!(
        err.contains(&format!(
            "Error: no Containerfile or Dockerfile specified or found in context directory, {}: no such file or directory",
            empty.display()
        )),
        "{err}"
    );
    // `exec` without a command, podman's wording.
    let err = env.roost(125, &["exec", "nosuchctr"]).stderr_text();
    assert!(
        err.contains("must provide a non-empty command to start an exec session"),
        "{err}"
    );
}

#[test]
fn buildx_is_build_and_names_the_builder_version() {
    let env = Env::new("buildx_is_build_and_names_the_builder_version");
    pull(&env, "busybox");
    let version = env
        .roost(0, &["info", "--format", "{{.Host.BuildahVersion}}"])
        .stdout_text();
    assert!(
        version.trim().starts_with(|c: char| c.is_ascii_digit()),
        "{version}"
    );
    let out = env.roost(0, &["buildx", "version"]).stdout_text();
    assert_eq!(out.trim(), format!("buildah {}", version.trim()));
    let df = format!(
        "FROM {}\nVOLUME ['/etc/foo', '/etc/bar']\n",
        image("busybox")
    );
    let dir = context(&env, &[("Dockerfile", &df)]);
    let tag = env.safename("bx");
    let out = env
        .roost(0, &["buildx", "build", "--load", "-t", &tag, s(&dir)])
        .stdout_text();
    assert!(out.contains("COMMIT"), "{out}");
    // Shell-form VOLUME words that are not absolute are taken from the root.
    let out = env
        .roost(
            0,
            &["run", "--rm", &tag, "find", "/[", "/etc/bar]", "-print"],
        )
        .stdout_text();
    assert_eq!(out, "/[\n/[/etc\n/[/etc/foo,\n/etc/bar]\n");
    env.roost(0, &["rmi", "-f", &tag]);
}

#[test]
fn build_run_steps_take_ulimit_seccomp_and_logfile() {
    let env = Env::new("build_run_steps_take_ulimit_seccomp_and_logfile");
    pull(&env, "busybox");
    let df = format!(
        "FROM {}\nRUN grep Seccomp: /proc/self/status\nRUN grep 'Max open files' /proc/self/limits\n",
        image("busybox")
    );
    let dir = context(&env, &[("Dockerfile", &df)]);
    let tag = env.safename("ul");
    let log = env.home.join("build.log");
    let out = env
        .roost(
            0,
            &[
                "build",
                "--ulimit",
                "nofile=101:102",
                "--logfile",
                s(&log),
                "-t",
                &tag,
                s(&dir),
            ],
        )
        .stdout_text();
    let text = fs::read_to_string(&log).unwrap();
    assert!(text.contains("COMMIT"), "{text}");
    assert!(
        !out.contains("COMMIT"),
        "the output went to --logfile: {out}"
    );
    // (RUN steps' own output still goes to stdout.)
    let all = format!("{out}{text}");
    assert!(all.contains("Seccomp:\t2"), "{all}");
    let limits = all
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        limits.split_whitespace().collect::<Vec<_>>()[3..5],
        ["101", "102"]
    );
    // Each step's id is printed as podman prints it: 12 hex digits.
    assert!(
        text.lines()
            .any(|l| l.strip_prefix("--> ").is_some_and(|id| id.len() == 12)),
        "{text}"
    );
    let out = env
        .roost(
            0,
            &[
                "build",
                "--no-cache",
                "--security-opt",
                "seccomp=unconfined",
                "-t",
                &tag,
                s(&dir),
            ],
        )
        .stdout_text();
    assert!(out.contains("Seccomp:\t0"), "{out}");
    env.roost(0, &["rmi", "-f", &tag]);
}

#[test]
fn build_layers_default_follows_buildah_layers() {
    let env = Env::new("build_layers_default_follows_buildah_layers");
    pull(&env, "busybox");
    let df = format!("FROM {}\nRUN echo layered\n", image("busybox"));
    let dir = context(&env, &[("Dockerfile", &df)]);
    let tag = env.safename("ly");
    env.roost(0, &["build", "-t", &tag, s(&dir)]);
    let out = env.roost(0, &["build", "-t", &tag, s(&dir)]).stdout_text();
    assert!(out.contains("Using cache"), "{out}");
    let mut cmd = env.roost_cmd(&["build", "-t", &tag, s(&dir)]);
    cmd.env("BUILDAH_LAYERS", "false");
    let out = env.run_cmd(cmd, 0).stdout_text();
    assert!(!out.contains("Using cache"), "{out}");
    let mut cmd = env.roost_cmd(&["build", "--layers=1", "-t", &tag, s(&dir)]);
    cmd.env("BUILDAH_LAYERS", "false");
    let out = env.run_cmd(cmd, 0).stdout_text();
    assert!(out.contains("Using cache"), "{out}");
    // --pull-never: the local image is used, a missing one fails in podman's words.
    env.roost(0, &["build", "--pull-never", "-t", &tag, s(&dir)]);
    let missing = context(
        &env,
        &[(
            "Dockerfile",
            "FROM localhost/roost-no-such-image:nosuchtag\n",
        )],
    );
    let err = env
        .roost(125, &["build", "--pull-never", s(&missing)])
        .stderr_text();
    assert!(
        err.contains("Error: creating build container: localhost/roost-no-such-image:nosuchtag: image not known"),
        "{err}"
    );
    env.roost(0, &["rmi", "-f", &tag]);
}

#[test]
fn build_copy_keeps_hard_links_and_names_the_failing_step() {
    let env = Env::new("build_copy_keeps_hard_links_and_names_the_failing_step");
    pull(&env, "busybox");
    let df = format!("FROM {}\nCOPY . /test\n", image("busybox"));
    let dir = context(&env, &[("Dockerfile", &df)]);
    fs::create_dir_all(dir.join("sub")).unwrap();
    fs::hard_link(dir.join("Dockerfile"), dir.join("link1")).unwrap();
    fs::hard_link(dir.join("Dockerfile"), dir.join("sub/link2")).unwrap();
    own_tree(&env, &dir);
    let tag = env.safename("hl");
    env.roost(0, &["build", "-t", &tag, s(&dir)]);
    let out = env
        .roost(
            0,
            &[
                "run",
                "--rm",
                &tag,
                "stat",
                "-c",
                "%i",
                "/test/Dockerfile",
                "/test/link1",
                "/test/sub/link2",
            ],
        )
        .stdout_lines();
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|i| *i == out[0]), "{out:?}");
    env.roost(0, &["rmi", "-f", &tag]);

    // A COPY that fails is named as podman names it; a URL is for ADD only.
    let df = format!("FROM {}\nCOPY nothere ./\n", image("busybox"));
    let dir = context(&env, &[("Dockerfile", &df)]);
    let err = env.roost(125, &["build", s(&dir)]).stderr_text();
    assert!(
        err.contains("Error: building at STEP \"COPY nothere ./\""),
        "{err}"
    );
    let df = format!(
        "FROM {}\nCOPY http://127.0.0.1:9/x /tmp/\n",
        image("busybox")
    );
    let dir = context(&env, &[("Dockerfile", &df)]);
    let err = env.roost(125, &["build", s(&dir)]).stderr_text();
    assert!(err.contains("building at STEP"), "{err}");
    assert!(err.contains("source can't be a URL for COPY"), "{err}");
}

#[test]
fn build_ignorefile_replaces_the_context_ignore_file() {
    let env = Env::new("build_ignorefile_replaces_the_context_ignore_file");
    pull(&env, "busybox");
    let df = format!("FROM {}\nCOPY ./ /c/\n", image("busybox"));
    let dir = context(
        &env,
        &[
            ("Dockerfile", &df),
            ("keep.txt", "k"),
            ("drop.txt", "d"),
            (".dockerignore", "keep.txt\n"),
        ],
    );
    let ignore = env.home.join("my-ignore");
    fs::write(&ignore, "drop.txt\n").unwrap();
    let tag = env.safename("ig");
    env.roost(
        0,
        &["build", "--ignorefile", s(&ignore), "-t", &tag, s(&dir)],
    );
    let out = env
        .roost(0, &["run", "--rm", &tag, "ls", "/c"])
        .stdout_text();
    assert!(
        out.contains("keep.txt") && !out.contains("drop.txt"),
        "{out}"
    );
    env.roost(0, &["rmi", "-f", &tag]);
}

#[test]
fn containers_conf_mounts_and_runtime() {
    let env = Env::new("containers_conf_mounts_and_runtime");
    pull(&env, "busybox");
    let data = env.home.join("conf-mount-data");
    fs::write(&data, "from containers.conf\n").unwrap();
    let other = env.home.join("cli-mount-data");
    fs::write(&other, "from the command line\n").unwrap();
    let conf = env.home.join("override.conf");
    fs::write(
        &conf,
        format!(
            "[containers]\nmounts = [\"type=bind,src={},destination=/confdata,ro\"]\n",
            data.display()
        ),
    )
    .unwrap();
    let bb = image("busybox");
    let mut cmd = env.roost_cmd(&["run", "--rm", &bb, "cat", "/confdata"]);
    cmd.env("CONTAINERS_CONF_OVERRIDE", &conf);
    assert_eq!(env.run_cmd(cmd, 0).stdout_text(), "from containers.conf\n");
    let flag = format!("type=bind,src={},destination=/confdata,ro", other.display());
    let mut cmd = env.roost_cmd(&["run", "--rm", "--mount", &flag, &bb, "cat", "/confdata"]);
    cmd.env("CONTAINERS_CONF_OVERRIDE", &conf);
    assert_eq!(env.run_cmd(cmd, 0).stdout_text(), "from the command line\n");

    let bad = env.home.join("bad.conf");
    fs::write(
        &bad,
        "[containers]\nmounts = [\"type=bogus,src=/x,destination=/y\"]\n",
    )
    .unwrap();
    let mut cmd = env.roost_cmd(&["run", "--rm", &bb, "true"]);
    cmd.env("CONTAINERS_CONF_OVERRIDE", &bad);
    let err = env.run_cmd(cmd, 125).stderr_text();
    assert!(
        err.contains("Error: parsing containers.conf mounts: invalid filesystem type \"bogus\""),
        "{err}"
    );

    let rt = env.home.join("runtime.conf");
    fs::write(&rt, "[engine]\nruntime = \"roost-no-such-runtime\"\n").unwrap();
    let mut cmd = env.roost_cmd(&["ps"]);
    cmd.env("CONTAINERS_CONF", &rt);
    let err = env.run_cmd(cmd, 125).stderr_text();
    assert!(err.contains("\"roost-no-such-runtime\" not found"), "{err}");
    let err = env
        .roost(125, &["--runtime=roost-no-such-runtime", "ps"])
        .stderr_text();
    assert!(err.contains("\"roost-no-such-runtime\" not found"), "{err}");
}

#[test]
fn parallel_builds_of_one_layer_all_succeed() {
    let env = Env::new("parallel_builds_of_one_layer_all_succeed");
    pull(&env, "busybox");
    let df = format!("FROM {}\nRUN echo same-layer-for-all\n", image("busybox"));
    let dir = context(&env, &[("Dockerfile", &df)]);
    let tags: Vec<String> = (0..4).map(|i| env.safename(&format!("par{i}"))).collect();
    let children: Vec<_> = tags
        .iter()
        .map(|t| env.roost_spawn(&["build", "-t", t, s(&dir)]))
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut args = vec!["rmi"];
    args.extend(tags.iter().map(String::as_str));
    env.roost(0, &args);
}
