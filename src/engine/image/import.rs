//! `import`: a root file system tarball becomes a one-layer image, with `--change` instructions applied
//! to its config.
use super::ImageError;
use std::io::Read;

use jiff::Timestamp;

use super::load::record_image;
use super::normalize_name;
use crate::engine::layer::{LayerSlot, ingest};
use crate::engine::{Ctx, EngineError};
use crate::oci::{ContainerConfig, Digest, History, ImageConfig, Platform, RootFs};

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub reference: Option<String>,
    /// Dockerfile-style instructions: `CMD`, `ENTRYPOINT`, `ENV`, `EXPOSE`, `LABEL`, `USER`, `VOLUME`,
    /// `WORKDIR`, `STOPSIGNAL`.
    pub changes: Vec<String>,
    pub message: Option<String>,
    pub source_name: String,
}

/// Parse a JSON array (`["a","b"]`) or, failing that, a shell form wrapped in `/bin/sh -c`.
fn command_form(v: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(v.trim())
        .unwrap_or_else(|_| vec!["/bin/sh".into(), "-c".into(), v.trim().to_string()])
}

/// Apply `--change` instructions to a container config (podman's import/commit subset).
pub fn apply_changes(cfg: &mut ContainerConfig, changes: &[String]) -> Result<(), EngineError> {
    for change in changes {
        let (inst, rest) = change
            .trim()
            .split_once([' ', '='])
            .unwrap_or((change.trim(), ""));
        let rest = rest.trim();
        let bad = || EngineError::from(ImageError::ChangeSyntax(change.to_string()));
        if rest.is_empty() {
            return Err(bad());
        }
        match inst.to_ascii_uppercase().as_str() {
            "CMD" => cfg.cmd = Some(command_form(rest)),
            "ENTRYPOINT" => cfg.entrypoint = Some(command_form(rest)),
            "USER" => cfg.user = Some(rest.to_string()),
            "WORKDIR" => cfg.working_dir = Some(rest.to_string()),
            "STOPSIGNAL" => cfg.stop_signal = Some(rest.to_string()),
            "ENV" => {
                let (k, v) = rest.split_once(['=', ' ']).ok_or_else(bad)?;
                let env = cfg.env.get_or_insert_with(Vec::new);
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |(ek, _)| ek) != k);
                env.push(format!("{k}={}", v.trim()));
            }
            "LABEL" => {
                let (k, v) = rest.split_once(['=', ' ']).ok_or_else(bad)?;
                cfg.labels
                    .get_or_insert_with(Default::default)
                    .insert(k.to_string(), v.trim().trim_matches('"').to_string());
            }
            "EXPOSE" => {
                for p in rest.split_whitespace() {
                    let p = if p.contains('/') {
                        p.to_string()
                    } else {
                        format!("{p}/tcp")
                    };
                    cfg.exposed_ports
                        .get_or_insert_with(Default::default)
                        .insert(p, serde_json::json!({}));
                }
            }
            "VOLUME" => {
                let vols: Vec<String> = serde_json::from_str(rest)
                    .unwrap_or_else(|_| rest.split_whitespace().map(str::to_string).collect());
                for v in vols {
                    cfg.volumes
                        .get_or_insert_with(Default::default)
                        .insert(v, serde_json::json!({}));
                }
            }
            other => {
                return Err(ImageError::ChangeInstruction {
                    change: change.to_string(),
                    instruction: other.to_string(),
                }
                .into());
            }
        }
    }
    Ok(())
}

/// Import a tarball (plain, gzip or zstd) as a new image; returns its id.
pub fn import(
    ctx: &Ctx,
    input: impl Read + Send,
    opts: &ImportOptions,
) -> Result<Digest, EngineError> {
    let mut cfg = ContainerConfig::default();
    apply_changes(&mut cfg, &opts.changes)?;
    let names = opts
        .reference
        .iter()
        .map(|r| normalize_name(r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut store = ctx.store()?;
    store.clean_staging();
    let slot = LayerSlot {
        image: opts.source_name.clone(),
        diff_id: None,
        chain_id: None,
        parent: None,
        blob_digest: None,
    };
    let layer = ingest(&mut store, input, &slot, &ctx.apply_options())?;
    let now = Timestamp::now();
    let host = Platform::host();
    let config = ImageConfig {
        created: Some(now),
        author: None,
        architecture: host.architecture,
        os: host.os,
        variant: host.variant,
        config: Some(cfg),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![layer.diff_id.clone()],
        },
        history: vec![History {
            created: Some(now),
            created_by: Some(format!(
                "/bin/sh -c #(nop) ADD file:{} in /",
                layer.diff_id.hex()
            )),
            comment: opts.message.clone(),
            ..Default::default()
        }],
    };
    let bytes = serde_json::to_vec(&config).expect("config serializes");
    let id = record_image(&mut store, &bytes, &config, &[layer], names, None)?;
    crate::engine::events::record(
        ctx,
        crate::engine::events::Event::image("import", &id.to_string(), &id.to_string()),
    );
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes() {
        let mut c = ContainerConfig::default();
        apply_changes(
            &mut c,
            &[
                "CMD [\"/bin/sh\",\"-c\",\"echo hi\"]".into(),
                "ENTRYPOINT /app".into(),
                "ENV A=1".into(),
                "ENV A=2".into(),
                "LABEL x=y".into(),
                "EXPOSE 80 53/udp".into(),
                "WORKDIR /w".into(),
                "USER 1000:1000".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.cmd.unwrap(), ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "/app"]);
        assert_eq!(c.env.unwrap(), ["A=2"]);
        assert_eq!(c.labels.unwrap()["x"], "y");
        assert!(c.exposed_ports.as_ref().unwrap().contains_key("80/tcp"));
        assert!(c.exposed_ports.unwrap().contains_key("53/udp"));
        assert_eq!(c.working_dir.unwrap(), "/w");
        assert!(apply_changes(&mut ContainerConfig::default(), &["RUN x".into()]).is_err());
        assert!(apply_changes(&mut ContainerConfig::default(), &["CMD".into()]).is_err());
    }
}
