//! OCI/Docker image layers: tar (optionally gzip/zstd compressed) to directory and back.
//!
//! Layer tarballs are hostile input. [`apply_layer`] never writes outside its destination:
//! every parent directory is resolved from a dirfd of the destination without following
//! symlinks, existing entries are replaced (never written through), and paths with `..`,
//! absolute paths, hard links escaping the tree and device nodes are refused with
//! [`ArchiveError::Refused`].
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod apply;
mod compression;
mod metadata;
mod path;
mod tree;
mod whiteout;
mod write;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::path::PathBuf;

pub use apply::apply_layer;
pub use compression::{Compression, decompress, decompress_archive};
pub use tree::{IdMap, TreeWriter, list_dir, open_nofollow};
pub use write::write_layer;

/// xattr that carries the real owner and mode of a file when it could not be chowned
/// (containers/storage and fuse-overlayfs format: `UID:GID:0MODE:TYPE`).
pub const OVERRIDE_STAT_XATTR: &str = "user.containers.override_stat";

/// xattr that marks a directory opaque for overlayfs mounted with `userxattr`.
pub const OPAQUE_XATTR: &str = "user.overlay.opaque";

/// xattr that fuse-overlayfs puts on opaque directories of its upper dir (besides a `.wh..wh..opq` file).
pub const FUSE_OPAQUE_XATTR: &str = "user.fuseoverlayfs.opaque";

/// The opaque-directory marker, as a tar entry name and as the file fuse-overlayfs leaves in its upper dir.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// The 0/0 whiteout fuse-overlayfs makes, next to the marker file, for the marker's `.wh.` name.
pub const FUSE_MARKER_WHITEOUT: &str = ".wh..opq";

/// How file ownership from the tar headers is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// `lchown` every entry to the ids in its header (needs a user namespace with a full id range).
    Chown,
    /// Don't chown; store `UID:GID:0MODE:TYPE` in [`OVERRIDE_STAT_XATTR`] on files and directories
    /// (single-id fallback, read back by fuse-overlayfs and by [`write_layer`]).
    Xattr,
}

/// What to do with `.wh.NAME` whiteouts and `.wh..wh..opq` opaque markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whiteouts {
    /// The layer gets its own directory used as an overlay lowerdir: a whiteout becomes a
    /// 0/0 character device named NAME and an opaque directory gets [`OPAQUE_XATTR`] = `y`.
    Overlay,
    /// Layers are stacked into one directory: a whiteout removes NAME, an opaque marker removes
    /// the directory's content that did not come from this layer.
    Apply,
}

/// Options for [`apply_layer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyOptions {
    pub ownership: Ownership,
    pub whiteouts: Whiteouts,
    /// Create character and block device entries (refused otherwise).
    pub allow_devices: bool,
}

/// What [`apply_layer`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Tar entries processed (whiteouts included, PAX/GNU meta entries excluded).
    pub entries: u64,
    /// Bytes of regular file content written.
    pub bytes: u64,
    /// Device nodes not created because devices are not allowed (rootless).
    pub skipped_devices: u64,
}

/// Errors of [`apply_layer`] and [`write_layer`].
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("failed to open layer directory `{}`", dir.display())]
    OpenDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to read layer tar")]
    ReadTar {
        #[source]
        source: io::Error,
    },
    #[error("failed to read layer tar entry `{path}`")]
    ReadEntry {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("refusing layer entry `{path}`: {reason}")]
    Refused { path: String, reason: Refusal },
    #[error("failed to {op} `{path}`")]
    Unpack {
        op: UnpackOp,
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to read `{}` into the layer tar", path.display())]
    ReadTree {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to write layer tar entry `{path}`")]
    WriteTar {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// Why a layer entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Path(PathProblem),
    #[error("hard link target `{target}`: {problem}")]
    LinkTarget {
        target: String,
        problem: PathProblem,
    },
    #[error("hard link has no target")]
    MissingLinkTarget,
    #[error("symlink target contains a NUL byte")]
    SymlinkTargetNul,
    #[error("device nodes are not allowed in this layer")]
    Device,
    #[error("the layer root can only be a directory")]
    RootNotDir,
    #[error("unsupported entry type `{0}`")]
    UnsupportedType(char),
}

/// What is wrong with an entry path or hard link target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    #[error("path is empty")]
    Empty,
    #[error("path contains a NUL byte")]
    Nul,
    #[error("path is absolute")]
    Absolute,
    #[error("path has a `..` component")]
    ParentComponent,
    #[error("path is longer than 4096 bytes")]
    TooLong,
    #[error("path names the layer root")]
    Root,
    #[error("`{0}` is a symlink")]
    Symlink(String),
    #[error("`{0}` is not a directory")]
    NotDir(String),
    #[error("whiteout names no file")]
    BadWhiteout,
}

/// The filesystem operation that failed while unpacking, for [`ArchiveError::Unpack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnpackOp {
    OpenParent,
    CreateFile,
    WriteFile,
    CreateDir,
    CreateSymlink,
    CreateHardLink,
    CreateNode,
    CreateWhiteout,
    MarkOpaque,
    Remove,
    Chown,
    Chmod,
    SetXattr,
    SetTimes,
}

impl fmt::Display for UnpackOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OpenParent => "open the parent directory of",
            Self::CreateFile => "create file",
            Self::WriteFile => "write file",
            Self::CreateDir => "create directory",
            Self::CreateSymlink => "create symlink",
            Self::CreateHardLink => "create hard link",
            Self::CreateNode => "create special file",
            Self::CreateWhiteout => "create whiteout",
            Self::MarkOpaque => "mark opaque",
            Self::Remove => "remove",
            Self::Chown => "change the owner of",
            Self::Chmod => "change the mode of",
            Self::SetXattr => "set an xattr on",
            Self::SetTimes => "set the times of",
        })
    }
}
