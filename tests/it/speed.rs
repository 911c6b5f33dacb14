//! The run path's and `ps`'s shortcuts keep their behaviour: registries.conf read only when needed,
//! the default `ps` table filled without the template engine, and the re-exec with a light parent.

use crate::harness::{Cleanup, OutputExt, bb, env_with_busybox, out};

/// registries.conf is read when a command needs it (a short name, a registry), not at every start:
/// a broken file leaves `run` of a local image and `ps` alone, and still fails a pull, naming it.
#[test]
fn a_broken_registries_conf_fails_only_what_needs_it() {
    let env = env_with_busybox("a_broken_registries_conf_fails_only_what_needs_it");
    let _c = Cleanup(&env);
    let broken = env.home.join("broken-registries.conf");
    env.run_as_user(
        0,
        "sh",
        &[
            "-c",
            &format!(
                "printf '[[registry]\\nlocation = \\n' > {}",
                broken.display()
            ),
        ],
    );
    let with_broken = |args: &[&str]| {
        let mut cmd = env.roost_cmd(args);
        cmd.env("CONTAINERS_REGISTRIES_CONF", &broken);
        cmd
    };
    let ran = env.run_cmd(
        with_broken(&["run", "--rm", "--network", "none", &bb(), "echo", "ok"]),
        0,
    );
    assert_eq!(ran.stdout_text(), "ok\n");
    env.run_cmd(with_broken(&["ps", "-a"]), 0);
    let pull = env.run_cmd(with_broken(&["pull", "-q", "no-such-short-name"]), 125);
    let err = pull.stderr_text();
    assert!(err.contains("broken-registries.conf"), "{err}");
}

/// The default `ps` table (filled straight from the containers) is the table its default template
/// gives, column for column, with `--no-trunc`, `--size` and `--pod` too.
#[test]
fn ps_default_table_is_its_template() {
    let env = env_with_busybox("ps_default_table_is_its_template");
    let _c = Cleanup(&env);
    let img = bb();
    let name = env.safename("listed");
    env.roost(
        0,
        &[
            "create",
            "--name",
            &name,
            &img,
            "sh",
            "-c",
            "echo a long command line here",
        ],
    );
    env.roost(0, &["run", "--name", &env.safename("ran"), &img, "true"]);
    let columns =
        "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Created}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
    for (flags, extra) in [
        (&[][..], ""),
        (&["--no-trunc"][..], ""),
        (&["--size"][..], "\t{{.Size}}"),
        (&["--pod"][..], "\t{{.Pod}}\t{{.PodName}}"),
    ] {
        let mut plain = vec!["ps", "-a"];
        plain.extend_from_slice(flags);
        let template = format!("table {columns}{extra}");
        let mut templated = plain.clone();
        templated.extend_from_slice(&["--format", &template]);
        let got = cells(&out(&env, &plain));
        assert_eq!(got, cells(&out(&env, &templated)), "ps -a {flags:?}");
        assert_eq!(got.len(), 3, "{got:?}");
    }
}

/// A table's cells by row (columns are separated by two spaces or more), with the times (`2 seconds
/// ago`) made equal: the two listings may fall on both sides of a second.
fn cells(table: &str) -> Vec<Vec<String>> {
    let ago = regex_lite::Regex::new(r"(\d+|About an?|Less than a) \w+ ago").unwrap();
    let gap = regex_lite::Regex::new(r"  +").unwrap();
    table
        .lines()
        .map(|l| {
            gap.split(l.trim_end())
                .map(|c| ago.replace_all(c, "T ago").into_owned())
                .collect()
        })
        .collect()
}
