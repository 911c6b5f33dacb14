use std::path::PathBuf;

use super::super::{Settings, Source, generate};

fn settings() -> Settings {
    Settings {
        roost: "/usr/bin/roost".into(),
        user: true,
    }
}

fn source(dir: &std::path::Path, name: &str, text: &str) -> Source {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    Source {
        name: name.into(),
        path,
        dropins: Vec::<PathBuf>::new(),
    }
}

/// The values of `key` outside the `[X-…]` copies of the Quadlet groups.
fn service_lines(text: &str, key: &str) -> Vec<String> {
    let mut in_copy = false;
    let mut out = Vec::new();
    for l in text.lines() {
        if l.starts_with('[') {
            in_copy = l.starts_with("[X-");
        } else if let Some(v) = l.strip_prefix(&format!("{key}=")).filter(|_| !in_copy) {
            out.push(v.to_string());
        }
    }
    out
}

#[test]
fn a_container_gets_podmans_service_layout() {
    let d = tempfile::tempdir().unwrap();
    let s = source(
        d.path(),
        "web.container",
        "[Unit]\nDescription=web\n[Container]\nImage=busybox\nPublishPort=8080:80\nVolume=data.volume:/srv:ro\nEnvironment=A=1 \"B=x y\"\nExec=httpd -f -p 80\n[Install]\nWantedBy=default.target\n",
    );
    let v = source(d.path(), "data.volume", "[Volume]\n");
    let g = generate(&[s, v], &settings());
    assert!(g.errors.is_empty(), "{:?}", g.errors);
    let web = g.units.iter().find(|u| u.service == "web.service").unwrap();
    let t = &web.text;
    assert_eq!(
        service_lines(t, "ExecStart"),
        [
            "/usr/bin/roost run --name systemd-%N --replace --rm --cgroups=split --sdnotify=conmon -d -v systemd-data:/srv:ro --publish 8080:80 --env A=1 --env \"B=x y\" busybox httpd -f -p 80"
        ]
    );
    assert_eq!(service_lines(t, "Type"), ["notify"]);
    assert_eq!(service_lines(t, "NotifyAccess"), ["all"]);
    assert_eq!(service_lines(t, "KillMode"), ["mixed"]);
    assert_eq!(service_lines(t, "Delegate"), ["yes"]);
    assert_eq!(service_lines(t, "Environment"), ["PODMAN_SYSTEMD_UNIT=%n"]);
    assert_eq!(
        service_lines(t, "ExecStop"),
        ["/usr/bin/roost rm -v -f -i systemd-%N"]
    );
    assert_eq!(
        service_lines(t, "ExecStopPost"),
        ["-/usr/bin/roost rm -v -f -i systemd-%N"]
    );
    assert_eq!(service_lines(t, "Requires"), ["data-volume.service"]);
    assert_eq!(
        service_lines(t, "After"),
        [USER_WAIT, "data-volume.service"]
    );
    assert!(t.contains("[X-Container]\nImage=busybox\n"), "{t}");
    assert_eq!(
        web.links,
        [PathBuf::from("default.target.wants/web.service")]
    );
    let vol = g
        .units
        .iter()
        .find(|u| u.service == "data-volume.service")
        .unwrap();
    assert_eq!(
        service_lines(&vol.text, "ExecStart"),
        ["/usr/bin/roost volume create --ignore systemd-data"]
    );
    assert_eq!(service_lines(&vol.text, "Type"), ["oneshot"]);
    assert_eq!(service_lines(&vol.text, "RemainAfterExit"), ["yes"]);
}

#[test]
fn unknown_keys_and_missing_references_name_the_line() {
    let d = tempfile::tempdir().unwrap();
    let s = source(d.path(), "a.container", "[Container]\nImage=x\nimage=y\n");
    let g = generate(&[s], &settings());
    let e = g.errors[0].to_string();
    assert!(
        e.contains("a.container:3") && e.contains("`image`") && e.contains("`Image`"),
        "{e}"
    );
    let s = source(
        d.path(),
        "b.container",
        "[Container]\nImage=x\nVolume=nope.volume:/d\n",
    );
    let e = generate(&[s], &settings()).errors[0].to_string();
    assert!(
        e.contains("b.container:3") && e.contains("nope.volume"),
        "{e}"
    );
    let s = source(d.path(), "c.container", "[Container]\nExec=true\n");
    let e = generate(&[s], &settings()).errors[0].to_string();
    assert!(e.contains("no Image or Rootfs"), "{e}");
}

/// `Rootfs=` runs a directory instead of an image: `--rootfs PATH` where the image would be.
#[test]
fn rootfs_becomes_run_rootfs() {
    let d = tempfile::tempdir().unwrap();
    let s = source(
        d.path(),
        "tree.container",
        "[Container]\nRootfs=/srv/tree:O\nExec=sh -c true\n",
    );
    let g = generate(&[s], &settings());
    assert!(g.errors.is_empty(), "{:?}", g.errors);
    let start = service_lines(&g.units[0].text, "ExecStart");
    assert!(
        start[0].ends_with(" -d --rootfs /srv/tree:O sh -c true"),
        "{start:?}"
    );
}

#[test]
fn templates_notify_and_oneshot() {
    let d = tempfile::tempdir().unwrap();
    let s = source(
        d.path(),
        "app@.container",
        "[Container]\nImage=x\nNotify=healthy\nHealthCmd=true\n[Install]\nWantedBy=default.target\nDefaultInstance=one\n",
    );
    let o = source(
        d.path(),
        "job.container",
        "[Container]\nImage=x\n[Service]\nType=oneshot\n",
    );
    let g = generate(&[s, o], &settings());
    assert!(g.errors.is_empty(), "{:?}", g.errors);
    let app = &g.units[0];
    assert_eq!(app.service, "app@.service");
    assert!(app.text.contains("--name systemd-%p_%i"), "{}", app.text);
    assert!(app.text.contains("--sdnotify=healthy -d"), "{}", app.text);
    assert!(app.text.contains("--health-cmd true"), "{}", app.text);
    assert_eq!(
        app.links,
        [PathBuf::from("default.target.wants/app@one.service")]
    );
    let job = &g.units[1];
    assert!(!job.text.contains("--sdnotify"), "{}", job.text);
    assert!(!job.text.contains(" -d "), "{}", job.text);
}

#[test]
fn install_section_becomes_links_and_unit_references_are_translated() {
    let d = tempfile::tempdir().unwrap();
    let db = source(d.path(), "db.container", "[Container]\nImage=x\n");
    let app = source(
        d.path(),
        "app.container",
        "[Unit]\nAfter=db.container network.target\n[Container]\nImage=x\n[Install]\nWantedBy=default.target\nRequiredBy=multi.target\nAlias=web-app.service\n",
    );
    let g = generate(&[db, app], &settings());
    assert!(g.errors.is_empty(), "{:?}", g.errors);
    let app = g.units.iter().find(|u| u.service == "app.service").unwrap();
    assert_eq!(
        app.links,
        [
            PathBuf::from("default.target.wants/app.service"),
            PathBuf::from("multi.target.requires/app.service"),
            PathBuf::from("web-app.service"),
        ]
    );
    assert_eq!(
        service_lines(&app.text, "After"),
        [USER_WAIT, "db.service network.target"]
    );
}

const USER_WAIT: &str = "roost-user-wait-network-online.service";

/// The units of `sources` under `settings`, by service name.
fn units_of(sources: &[Source], settings: &Settings) -> Vec<(String, String)> {
    let g = generate(sources, settings);
    assert!(g.errors.is_empty(), "{:?}", g.errors);
    g.units.into_iter().map(|u| (u.service, u.text)).collect()
}

#[test]
fn units_wait_for_the_network_as_podmans_do() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("app.yaml"), "").unwrap();
    let sources = [
        source(d.path(), "web.container", "[Container]\nImage=x\n"),
        source(d.path(), "app.kube", "[Kube]\nYaml=app.yaml\n"),
        source(d.path(), "set.pod", "[Pod]\n"),
        source(
            d.path(),
            "bare.container",
            "[Quadlet]\nDefaultDependencies=false\n[Container]\nImage=x\n",
        ),
    ];
    let system = Settings {
        roost: "/usr/bin/roost".into(),
        user: false,
    };
    // System units: the system's network-online.target, and no helper.
    let units = units_of(&sources, &system);
    assert_eq!(units.len(), 4, "{units:?}");
    for (name, text) in &units {
        let want: &[&str] = if name == "bare.service" {
            &[]
        } else {
            &["network-online.target"]
        };
        assert_eq!(service_lines(text, "Wants"), want, "{name}: {text}");
        assert_eq!(service_lines(text, "After"), want, "{name}: {text}");
    }
    // User units: the helper that waits for it, written once with them.
    let units = units_of(&sources, &settings());
    assert_eq!(units.len(), 5, "{units:?}");
    for (name, text) in units.iter().filter(|(n, _)| n != USER_WAIT) {
        let want: &[&str] = if name == "bare.service" {
            &[]
        } else {
            &[USER_WAIT]
        };
        assert_eq!(service_lines(text, "Wants"), want, "{name}: {text}");
        assert_eq!(service_lines(text, "After"), want, "{name}: {text}");
    }
    let helper = &units.iter().find(|(n, _)| n == USER_WAIT).unwrap().1;
    assert!(
        helper.starts_with(crate::engine::quadlet::manage::MARKER),
        "{helper}"
    );
    assert_eq!(service_lines(helper, "Type"), ["oneshot"]);
    assert_eq!(service_lines(helper, "RemainAfterExit"), ["yes"]);
    assert!(
        service_lines(helper, "ExecStart")[0].contains("network-online.target"),
        "{helper}"
    );
    // Only units that wait bring the helper along.
    let units = units_of(&sources[3..], &settings());
    assert_eq!(units.len(), 1, "{units:?}");
}

/// Every command line a `.kube` unit runs parses with roost's own CLI, and carries what its keys
/// ask for: a flag the converter emits that `kube play` or `kube down` does not take would make a
/// unit that fails when it starts.
#[test]
fn kube_units_command_lines_parse_with_roosts_cli() {
    use clap::Parser as _;

    use crate::cli::kube::KubeCommand;
    use crate::cli::{Cli, Command};

    fn parse(line: &str) -> KubeCommand {
        let words = crate::engine::quadlet::unit::split_words(line.trim_start_matches('-'))
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        let cli = Cli::try_parse_from(&words).unwrap_or_else(|e| panic!("{line}:\n{e}"));
        match cli.command.map(|c| c.0) {
            Some(Command::Kube(k)) => k,
            other => panic!("{line}: not a kube command: {other:?}"),
        }
    }

    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("app.yaml"), "").unwrap();
    let unit = "[Kube]\nYaml=app.yaml\nAutoUpdate=registry\nAutoUpdate=web/local\n\
        ConfigMap=env.yaml\nConfigMap=/etc/more.yaml\nPublishPort=8080:80\n\
        PublishPort=127.0.0.1:9090:90/udp\nLogDriver=journald\nLogOpt=tag=app\nLogOpt=max-size=1m\n\
        UserNS=keep-id\nNetwork=front.network:ip=10.89.7.5\nNetwork=back\n\
        ExitCodePropagation=any\nKubeDownForce=false\nSetWorkingDirectory=yaml\n\
        GlobalArgs=--log-level=debug\nPodmanArgs=--build --tls-verify\n";
    let sources = [
        source(d.path(), "app.kube", unit),
        source(d.path(), "front.network", "[Network]\n"),
        source(
            d.path(),
            "forced.kube",
            "[Kube]\nYaml=app.yaml\nKubeDownForce=true\n",
        ),
    ];
    let units = units_of(&sources, &settings());
    let text = |name: &str| units.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let app = text("app.service");

    let start = service_lines(&app, "ExecStart");
    assert_eq!(start.len(), 1, "{app}");
    let KubeCommand::Play(p) = parse(&start[0]) else {
        panic!("{}: not kube play", start[0]);
    };
    // A bare boolean flag before the YAML's path does not take the path as its value.
    assert!(p.replace && p.service_container && p.build == Some(true));
    assert_eq!(p.tls_verify, Some(true));
    assert_eq!(p.service_exit_code_propagation.as_deref(), Some("any"));
    assert_eq!(
        p.annotation,
        [
            "io.containers.autoupdate=registry",
            "io.containers.autoupdate/web=local"
        ]
    );
    let dir = d.path().display();
    assert_eq!(
        p.configmap,
        [
            std::path::PathBuf::from(format!("{dir}/env.yaml")),
            "/etc/more.yaml".into()
        ]
    );
    assert_eq!(p.publish, ["8080:80", "127.0.0.1:9090:90/udp"]);
    assert_eq!(p.log_driver.as_deref(), Some("journald"));
    assert_eq!(p.log_opt, ["tag=app", "max-size=1m"]);
    assert_eq!(p.userns.as_deref(), Some("keep-id"));
    assert_eq!(p.network, ["systemd-front:ip=10.89.7.5", "back"]);
    assert_eq!(p.file, format!("{dir}/app.yaml"));

    let stop = service_lines(&app, "ExecStopPost");
    assert_eq!(stop.len(), 1, "{app}");
    let KubeCommand::Down(down) = parse(&stop[0]) else {
        panic!("{}: not kube down", stop[0]);
    };
    assert!(!down.force, "KubeDownForce=false: {}", stop[0]);
    assert_eq!(down.file, format!("{dir}/app.yaml"));

    let forced = text("forced.service");
    let KubeCommand::Down(down) = parse(&service_lines(&forced, "ExecStopPost")[0]) else {
        panic!("{forced}");
    };
    assert!(down.force, "KubeDownForce=true: {forced}");
}

#[test]
fn containers_conf_modules_are_refused_clearly() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("app.yaml"), "").unwrap();
    let s = source(
        d.path(),
        "app.kube",
        "[Kube]\nYaml=app.yaml\nContainersConfModule=/etc/m.conf\n",
    );
    let e = generate(&[s], &settings()).errors[0].to_string();
    assert!(
        e.contains("app.kube:3") && e.contains("CONTAINERS_CONF_OVERRIDE"),
        "{e}"
    );
}

/// Parse a unit's command line as `roost` itself does (`cli::run`: the container's command kept
/// apart from roost's flags), after systemd's `-` prefix.
fn parse_cli(line: &str) -> crate::cli::Cli {
    use clap::{CommandFactory as _, FromArgMatches as _};

    let words = crate::engine::quadlet::unit::split_words(line.trim_start_matches('-'))
        .unwrap_or_else(|e| panic!("{line}: {e}"));
    let args: Vec<std::ffi::OsString> = words.iter().map(Into::into).collect();
    let mut cmd = crate::cli::Cli::command();
    let args = crate::cli::argv::separate_container_command(&cmd, args);
    let m = cmd
        .try_get_matches_from_mut(&args)
        .unwrap_or_else(|e| panic!("{line}:\n{e}"));
    crate::cli::Cli::from_arg_matches(&m).unwrap_or_else(|e| panic!("{line}:\n{e}"))
}

/// Every command line of a generated service, each parsed with roost's CLI.
fn parse_all_command_lines(text: &str) -> Vec<(String, crate::cli::Cli)> {
    let mut out = Vec::new();
    for key in [
        "ExecStartPre",
        "ExecStart",
        "ExecStartPost",
        "ExecReload",
        "ExecStop",
        "ExecStopPost",
    ] {
        for line in service_lines(text, key) {
            let cli = parse_cli(&line);
            out.push((key.to_string(), cli));
        }
    }
    assert!(!out.is_empty(), "no command lines: {text}");
    out
}

/// Every command line of every unit converted from `sources` parses with roost's CLI.
fn assert_units_parse(sources: &[Source]) {
    for (name, text) in units_of(sources, &settings()) {
        if name == USER_WAIT {
            continue;
        }
        for (key, cli) in parse_all_command_lines(&text) {
            assert!(cli.command.is_some(), "{name} {key}: {text}");
        }
    }
}

/// Every key of a `.container` unit: its command lines parse with roost's CLI (a flag the
/// converter emits that `run` does not take would make a unit that fails when it starts).
#[test]
fn container_units_command_lines_parse_with_roosts_cli() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("env.list"), "A=1\n").unwrap();
    let full = "[Container]\nAddCapability=NET_ADMIN SYS_TIME\nAddHost=db:10.0.0.2\n\
        Annotation=a=b\nAutoUpdate=registry\nCgroupsMode=split\nContainerName=web\nDNS=10.0.0.1\n\
        DNSOption=ndots:2\nDNSSearch=example.com\nDropCapability=all\nEntrypoint=/bin/sh\n\
        Environment=A=1 \"B=x y\"\nEnvironmentFile=env.list\nEnvironmentHost=true\nExec=-c 'echo hi'\n\
        ExposeHostPort=8080\nGlobalArgs=--log-level=debug\nUser=1000\nGroup=100\nGroupAdd=wheel\n\
        HealthCmd=true\nHealthInterval=30s\nHealthLogDestination=local\nHealthMaxLogCount=5\n\
        HealthMaxLogSize=500\nHealthOnFailure=kill\nHealthRetries=3\nHealthStartPeriod=5s\n\
        HealthStartupCmd=true\nHealthStartupInterval=2s\nHealthStartupRetries=2\n\
        HealthStartupSuccess=1\nHealthStartupTimeout=10s\nHealthTimeout=5s\nHostName=web\n\
        Image=busybox\nIP=10.89.0.7\nIP6=fd00::7\nLabel=x=y\nLogDriver=journald\nLogOpt=tag=web\n\
        Mask=/proc/kcore\nUnmask=ALL\nMemory=64m\nMount=type=bind,source=./data,destination=/data\n\
        Network=front.network\nNetworkAlias=web\nNoNewPrivileges=true\nNotify=true\nPidsLimit=100\n\
        PodmanArgs=--tty\nPublishPort=8080:80\nPull=newer\nReadOnly=true\nReadOnlyTmpfs=false\n\
        ReloadCmd=/bin/kill -HUP 1\nRunInit=true\n\
        SeccompProfile=/etc/seccomp.json\nSecret=tok,type=env,target=TOK\n\
        SecurityLabelDisable=true\nSecurityLabelFileType=usr_t\nSecurityLabelLevel=s0:c1,c2\n\
        SecurityLabelNested=true\nSecurityLabelType=spc_t\nServiceName=web\nShmSize=64m\n\
        StopSignal=SIGINT\nStopTimeout=20\nTmpfs=/run\n\
        Ulimit=nofile=1024:2048\nVolatileTmp=true\nVolume=data.volume:/var/data\nWorkingDir=/srv\n";
    let sources = [
        source(d.path(), "web.container", full),
        source(
            d.path(),
            "member.container",
            "[Container]\nImage=busybox\nPod=set.pod\nStartWithPod=false\nReloadSignal=SIGHUP\n\
             UIDMap=0:1:1000\nGIDMap=0:1:1000\n",
        ),
        source(
            d.path(),
            "sub.container",
            "[Container]\nImage=busybox\nSubUIDMap=roosttest\nSubGIDMap=roosttest\n",
        ),
        source(
            d.path(),
            "keep.container",
            "[Container]\nImage=busybox\nUserNS=keep-id:uid=1000\nVolatileTmp=true\n[Service]\nType=oneshot\n",
        ),
        source(d.path(), "set.pod", "[Pod]\n"),
        source(d.path(), "front.network", "[Network]\n"),
        source(d.path(), "data.volume", "[Volume]\n"),
    ];
    assert_units_parse(&sources);
}

/// The same for `.volume`, `.network`, `.image` and `.build` units with every key.
#[test]
fn oneshot_units_command_lines_parse_with_roosts_cli() {
    let d = tempfile::tempdir().unwrap();
    let sources = [
        source(
            d.path(),
            "data.volume",
            "[Volume]\nCopy=false\nDevice=/dev/sdb1\nType=ext4\nOptions=noatime\nDriver=local\n\
             GlobalArgs=--log-level=info\nUser=1000\nGroup=1000\nLabel=a=b \"c=d e\"\n\
             PodmanArgs=--opt=o=nodev\nServiceName=data-vol\nVolumeName=data\n",
        ),
        source(
            d.path(),
            "front.network",
            "[Network]\nDisableDNS=false\nDriver=bridge\nGateway=10.89.7.1\n\
             IPRange=10.89.7.128/25\nIPv6=true\nInterfaceName=front0\n\
             Internal=true\nLabel=a=b\nNetworkDeleteOnStop=true\nNetworkName=front\n\
             Options=mtu=1400\nPodmanArgs=--ignore\nServiceName=front-net\nSubnet=10.89.7.0/24\n\
             GlobalArgs=--log-level=info\n",
        ),
        source(
            d.path(),
            "busybox.image",
            "[Image]\nImage=127.0.0.1:5000/busybox\nArch=amd64\n\
             AuthFile=/etc/auth.json\nCreds=u:p\n\
             ImageTag=localhost/bb\nOS=linux\nVariant=v8\nTLSVerify=false\nRetry=3\n\
             PodmanArgs=--quiet\nGlobalArgs=--log-level=info\n",
        ),
        source(
            d.path(),
            "app.build",
            "[Build]\nImageTag=localhost/app\nImageTag=localhost/app:1\nFile=Containerfile\n\
             SetWorkingDirectory=unit\nAuthFile=/etc/auth.json\nLabel=a=b\nAnnotation=c=d\n\
             Network=front.network\nPull=newer\nSecret=id=tok,src=/run/tok\nTarget=final\n\
             TLSVerify=false\nPodmanArgs=--no-cache\nGlobalArgs=--log-level=info\n",
        ),
    ];
    assert_units_parse(&sources);
}

/// Every key of a `.pod` unit: its command lines parse with roost's CLI and carry what the keys ask
/// for (`pod create` once lacked `--ip`, `--network-alias`, `-v`, `--uidmap` …, so such a unit
/// failed when systemd started it).
#[test]
fn pod_units_command_lines_parse_with_roosts_cli() {
    use crate::cli::Command;
    use crate::cli::pod::PodCommand;

    let d = tempfile::tempdir().unwrap();
    let unit = "[Pod]\nPodName=web\nServiceName=webpod\nAddHost=db.local:10.0.0.9\nDNS=10.0.0.1\n\
        DNSOption=ndots:2\nDNSSearch=example.com\nExitPolicy=continue\nHostName=webhost\n\
        IP=10.89.7.5\nIP6=fd00::5\nLabel=a=b \"c=d e\"\nNetwork=front.network\n\
        NetworkAlias=www\nNetworkAlias=site\nPublishPort=8080:80\nVolume=data.volume:/data:ro\n\
        Volume=./site:/srv\nUIDMap=0:1:1000\nGIDMap=0:1:2000\nGlobalArgs=--log-level=debug\n\
        ShmSize=8m\nPodmanArgs=--share=+pid\n";
    let sources = [
        source(d.path(), "web.pod", unit),
        source(
            d.path(),
            "sub.pod",
            "[Pod]\nSubUIDMap=roosttest\nSubGIDMap=roosttest\n",
        ),
        source(d.path(), "keep.pod", "[Pod]\nUserNS=keep-id\n"),
        source(d.path(), "front.network", "[Network]\n"),
        source(d.path(), "data.volume", "[Volume]\n"),
    ];
    let units = units_of(&sources, &settings());
    let text = |name: &str| units.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let pod = |cli: crate::cli::Cli| match cli.command.map(|c| c.0) {
        Some(Command::Pod(p)) => p,
        other => panic!("not a pod command: {other:?}"),
    };
    let web = text("webpod.service");
    let lines = parse_all_command_lines(&web);
    let verbs: Vec<(String, String)> = lines
        .into_iter()
        .map(|(key, cli)| {
            let verb = match pod(cli) {
                PodCommand::Create(c) => {
                    assert_eq!(c.name.as_deref(), Some("web"));
                    assert_eq!(c.infra_name.as_deref(), Some("web-infra"));
                    assert_eq!(c.exit_policy.as_deref(), Some("continue"));
                    assert_eq!(c.hostname.as_deref(), Some("webhost"));
                    assert_eq!(c.add_host, ["db.local:10.0.0.9"]);
                    assert_eq!(c.dns, ["10.0.0.1"]);
                    assert_eq!(c.dns_option, ["ndots:2"]);
                    assert_eq!(c.dns_search, ["example.com"]);
                    assert_eq!(c.label, ["a=b", "c=d e"]);
                    assert_eq!(c.network, "systemd-front");
                    assert_eq!(c.ip.as_deref(), Some("10.89.7.5"));
                    assert_eq!(c.ip6.as_deref(), Some("fd00::5"));
                    assert_eq!(c.shm_size.as_deref(), Some("8m"));
                    assert_eq!(c.network_alias, ["www", "site"]);
                    assert_eq!(c.publish, ["8080:80"]);
                    let dir = d.path().display();
                    assert_eq!(
                        c.volume,
                        [
                            "systemd-data:/data:ro".to_string(),
                            format!("{dir}/site:/srv")
                        ]
                    );
                    assert_eq!(c.uidmap, ["0:1:1000"]);
                    assert_eq!(c.gidmap, ["0:1:2000"]);
                    assert_eq!(c.share.as_deref(), Some("+pid"));
                    "create"
                }
                PodCommand::Start(s) => {
                    assert_eq!(s.pods, ["web"]);
                    "start"
                }
                PodCommand::Stop(s) => {
                    assert!(s.ignore);
                    assert_eq!(s.time, Some(10));
                    assert_eq!(s.pods, ["web"]);
                    "stop"
                }
                PodCommand::Rm(r) => {
                    assert!(r.ignore && r.force);
                    assert_eq!(r.pods, ["web"]);
                    "rm"
                }
                other => panic!("unexpected pod command {other:?}"),
            };
            (key, verb.to_string())
        })
        .collect();
    let want = [
        ("ExecStartPre", "rm"),
        ("ExecStartPre", "create"),
        ("ExecStart", "start"),
        ("ExecStop", "stop"),
        ("ExecStopPost", "rm"),
    ];
    assert_eq!(
        verbs,
        want.map(|(k, v)| (k.to_string(), v.to_string())),
        "{web}"
    );

    let sub = text("sub-pod.service");
    let create = service_lines(&sub, "ExecStartPre")[1].clone();
    let PodCommand::Create(c) = pod(parse_cli(&create)) else {
        panic!("{create}");
    };
    assert_eq!(c.subuidname.as_deref(), Some("roosttest"));
    assert_eq!(c.subgidname.as_deref(), Some("roosttest"));
    let keep = text("keep-pod.service");
    let create = service_lines(&keep, "ExecStartPre")[1].clone();
    let PodCommand::Create(c) = pod(parse_cli(&create)) else {
        panic!("{create}");
    };
    assert_eq!(c.userns.as_deref(), Some("keep-id"));
}

/// `.volume` `Driver=image` is refused when the unit is generated, naming the key's line and why
/// (rather than a unit whose command fails when systemd starts it).
#[test]
fn volume_driver_image_is_refused_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    let s = source(
        d.path(),
        "img.volume",
        "[Volume]\nDriver=image\nImage=busybox\n",
    );
    let e = generate(&[s], &settings()).errors[0].to_string();
    assert!(
        e.contains("img.volume:2") && e.contains("local driver"),
        "{e}"
    );
}

/// The keys roost once refused for lack of flags (Sysctl, Timezone, Retry*, AddDevice; AllTags,
/// CertDir, DecryptionKey; the `.build` DNS, Environment, GroupAdd, Volume, ForceRM, Arch, Variant; the
/// `.network` DNS and IPAMDriver) become roost's flags, which its CLI parses with the values the unit gave.
#[test]
fn keys_once_refused_become_roosts_flags() {
    use crate::cli::Command;
    use crate::cli::image::ImageCommand;
    use crate::cli::network::NetworkCommand;

    let d = tempfile::tempdir().unwrap();
    let sources = [
        source(
            d.path(),
            "web.container",
            "[Container]\nImage=busybox\nSysctl=net.ipv4.ip_forward=1 net.ipv4.ping_group_range=0\\ 0\n\
             Timezone=Europe/Berlin\nRetry=5\nRetryDelay=2s\n\
             AddDevice=/dev/null:/dev/mynull:rw\nAddDevice=-/dev/roost-missing-node\n",
        ),
        source(
            d.path(),
            "bb.image",
            "[Image]\nImage=127.0.0.1:5000/busybox\nAllTags=true\nCertDir=/etc/roost-certs\n\
             Retry=4\nRetryDelay=3s\nDecryptionKey=/keys/priv.pem:secret\n",
        ),
        source(
            d.path(),
            "app.build",
            "[Build]\nImageTag=localhost/app\nSetWorkingDirectory=/srv/app\n\
             Environment=A=1 \"B=x y\"\nDNS=192.0.2.1\nDNSOption=ndots:2\nDNSSearch=example.com\n\
             GroupAdd=wheel\nVolume=/srv/cache:/cache:ro\nForceRM=true\nRetry=2\nRetryDelay=1s\n\
             Arch=arm64\nVariant=v8\n",
        ),
        source(
            d.path(),
            "front.network",
            "[Network]\nDNS=192.0.2.53\nDNS=192.0.2.54\nIPAMDriver=host-local\n",
        ),
    ];
    let units = units_of(&sources, &settings());
    let start = |name: &str| {
        let text = &units.iter().find(|(n, _)| n == name).unwrap().1;
        parse_cli(&service_lines(text, "ExecStart")[0])
            .command
            .map(|c| c.0)
    };
    let Some(Command::Run(r)) = start("web.service") else {
        panic!("not a run")
    };
    let c = r.0.create;
    assert_eq!(
        c.sysctl,
        ["net.ipv4.ip_forward=1", "net.ipv4.ping_group_range=0 0"]
    );
    assert_eq!(c.tz.as_deref(), Some("Europe/Berlin"));
    assert_eq!(c.retry.retry, 5);
    assert_eq!(c.retry.retry_delay.as_deref(), Some("2s"));
    // `-PATH`: only when the node exists.
    assert_eq!(c.device, ["/dev/null:/dev/mynull:rw"]);

    let Some(Command::Image(ImageCommand::Pull(p))) = start("bb-image.service") else {
        panic!("not an image pull")
    };
    assert!(p.all_tags);
    assert_eq!(
        p.registry.cert_dir.as_deref(),
        Some(std::path::Path::new("/etc/roost-certs"))
    );
    assert_eq!(p.registry.retry.retry, 4);
    assert_eq!(p.registry.retry.retry_delay.as_deref(), Some("3s"));
    assert_eq!(p.decryption_key, ["/keys/priv.pem:secret"]);

    let Some(Command::Build(b)) = start("app-build.service") else {
        panic!("not a build")
    };
    assert_eq!(b.env, ["A=1", "B=x y"]);
    assert_eq!(b.dns, ["192.0.2.1"]);
    assert_eq!(b.dns_option, ["ndots:2"]);
    assert_eq!(b.dns_search, ["example.com"]);
    assert_eq!(b.group_add, ["wheel"]);
    assert_eq!(b.volume, ["/srv/cache:/cache:ro"]);
    assert_eq!(b.force_rm, Some(true));
    assert_eq!(
        (b.retry.retry, b.retry.retry_delay.as_deref()),
        (2, Some("1s"))
    );
    // Checked against the host's platform when the build runs.
    assert_eq!(
        (b.arch.as_deref(), b.variant.as_deref()),
        (Some("arm64"), Some("v8"))
    );

    let Some(Command::Network(NetworkCommand::Create(n))) = start("front-network.service") else {
        panic!("not a network create")
    };
    assert_eq!(n.dns, ["192.0.2.53", "192.0.2.54"]);
    assert_eq!(n.ipam_driver.as_deref(), Some("host-local"));
}
