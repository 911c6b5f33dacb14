//! Pull/push progress: podman's lines on a pipe, one bar per layer on a terminal, nothing with `-q`.
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::image::PullProgress;
use crate::oci::Digest;

pub enum Progress {
    Quiet,
    Lines,
    Bars {
        multi: MultiProgress,
        bars: RefCell<HashMap<Digest, ProgressBar>>,
    },
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            Progress::Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: RefCell::default(),
            }
        } else {
            Progress::Lines
        }
    }

    fn line(&self, text: &str) {
        match self {
            Progress::Quiet => {}
            Progress::Lines => {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("{text}");
                }
            }
            Progress::Bars { multi, .. } => {
                let _ = multi.println(text);
            }
        }
    }
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template(
        "Copying blob {prefix} {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl PullProgress for Progress {
    fn trying(&self, reference: &str) {
        self.line(&format!("Trying to pull {reference}..."));
    }
    fn resolved(&self, _layers: usize) {
        self.line("Getting image source signatures");
    }
    fn blob_start(&self, digest: &Digest, size: u64, already_present: bool) {
        match self {
            Progress::Bars { multi, bars } if !already_present => {
                let bar = multi.add(ProgressBar::new(size));
                bar.set_style(style());
                bar.set_prefix(digest.short().to_string());
                bars.borrow_mut().insert(digest.clone(), bar);
            }
            _ if already_present => self.line(&format!(
                "Copying blob {} skipped: already exists",
                digest.short()
            )),
            _ => self.line(&format!("Copying blob {digest}")),
        }
    }
    fn blob_progress(&self, digest: &Digest, bytes: u64) {
        if let Progress::Bars { bars, .. } = self
            && let Some(b) = bars.borrow().get(digest)
        {
            b.set_position(bytes);
        }
    }
    fn blob_done(&self, digest: &Digest) {
        if let Progress::Bars { bars, .. } = self
            && let Some(b) = bars.borrow_mut().remove(digest)
        {
            b.finish_with_message("done");
        }
    }
    fn config(&self, digest: &Digest) {
        self.line(&format!("Copying config {} done", digest.short()));
    }
    fn writing_manifest(&self) {
        self.line("Writing manifest to image destination");
    }
}
