//! COPY and ADD (and WORKDIR's mkdir): decide what goes where (Docker's rules: a directory's contents
//! are copied, not the directory; several sources need a directory destination; relative destinations
//! are under WORKDIR; local tar archives are unpacked by ADD; URLs are fetched), digest it for the
//! cache, then write the layer tar directly and ingest it like any other layer.
use super::BuildError;
use std::collections::BTreeMap;
use std::io::{BufReader, Read, Seek};
use std::path::PathBuf;
use std::sync::Arc;

use super::context::{Entry, EntryKind};
use super::ignore::{clean, glob_regex};
use super::stage::{Builder, State};
use super::view::LayerView;
use crate::dockerfile::CopyArgs;
use crate::dockerfile::words::WordError;
use crate::engine::EngineError;
use crate::engine::layer::{Ingested, LayerSlot, ingest};
use crate::oci::{Digest, Sha256Writer};

#[derive(Clone)]
enum Content {
    Host(PathBuf),
    Bytes(Arc<Vec<u8>>),
    Temp(Arc<std::fs::File>),
}

#[derive(Clone)]
enum ItemKind {
    Dir,
    File(Content),
    Symlink(PathBuf),
    /// A tar archive unpacked under the item's path (ADD).
    Archive(Content),
}

#[derive(Clone)]
struct Item {
    /// Path in the image, relative (no leading `/`).
    path: String,
    kind: ItemKind,
    mode: u32,
    /// `None`: keep the owner the archive says (ADD of an archive without --chown).
    owner: Option<(u32, u32)>,
    mtime: i64,
}

/// What a COPY/ADD will write.
pub(super) struct Plan {
    /// The instruction as executed, for the cache key and history.
    pub text: String,
    /// Digest of everything copied (paths, types, modes, owners, contents).
    pub content: Digest,
    items: Vec<Item>,
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn join(dir: &str, name: &str) -> String {
    let d = dir.trim_matches('/');
    if d.is_empty() {
        name.trim_start_matches('/').to_string()
    } else if name.is_empty() {
        d.to_string()
    } else {
        format!("{d}/{}", name.trim_start_matches('/'))
    }
}

fn base_name(p: &str) -> &str {
    p.trim_end_matches('/').rsplit('/').next().unwrap_or(p)
}

/// `--chown=user[:group]` against the image's passwd and group (a user alone sets the group to the
/// same numeric id, as Docker does).
fn chown(spec: &str, view: &LayerView) -> Result<(u32, u32), String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = view.read_to_string("/etc/passwd").unwrap_or_default();
    let groups = view.read_to_string("/etc/group").unwrap_or_default();
    let lookup = |text: &str, name: &str, what: &str| -> Result<u32, String> {
        if let Ok(n) = name.parse::<u32>() {
            return Ok(n);
        }
        text.lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 2 && f[0] == name)
            .and_then(|f| f[2].parse().ok())
            .ok_or_else(|| format!("unable to find {what} `{name}` for --chown in the image"))
    };
    let uid = lookup(&passwd, user, "user")?;
    let gid = match group {
        Some(g) => lookup(&groups, g, "group")?,
        None => uid,
    };
    Ok((uid, gid))
}

fn chmod(spec: &str) -> Result<u32, String> {
    u32::from_str_radix(spec, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("invalid --chmod `{spec}`: use an octal mode such as 0755"))
}

/// Whether a file is a tar archive (plain, gzip, bzip2, xz or zstd).
fn is_archive(p: &std::path::Path) -> bool {
    let Ok(f) = std::fs::File::open(p) else {
        return false;
    };
    let Ok(mut r) = crate::archive::decompress_archive(BufReader::new(f)) else {
        return false;
    };
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n == 512 && &head[257..262] == b"ustar"
}

struct Matched {
    /// Source-relative path of the match (for the target name).
    name: String,
    items: Vec<Item>,
    is_dir: bool,
}

impl Plan {
    /// A directory and its missing parents (WORKDIR).
    pub fn mkdir(path: &str, view: &LayerView, now: i64) -> Plan {
        let mut items = Items::default();
        parents(
            &mut items,
            &format!("{}/x", path.trim_end_matches('/')),
            view,
            now,
        );
        let text = format!("mkdir {path}");
        Plan {
            content: Digest::sha256_of(text.as_bytes()),
            text,
            items: items.list,
        }
    }
}

/// Items in tar order, indexed by path (a later item for the same path replaces the earlier one).
#[derive(Default)]
struct Items {
    list: Vec<Item>,
    index: std::collections::HashMap<String, usize>,
}

impl Items {
    fn contains(&self, path: &str) -> bool {
        self.index.contains_key(path)
    }
    fn put(&mut self, it: Item) {
        // An archive is unpacked at its path, not placed there: several can share one.
        if matches!(it.kind, ItemKind::Archive(_)) {
            self.list.push(it);
            return;
        }
        match self.index.get(&it.path) {
            Some(&i) => self.list[i] = it,
            None => {
                self.index.insert(it.path.clone(), self.list.len());
                self.list.push(it);
            }
        }
    }
}

/// Parent directories of `path`, as the view has them (or 0755 root-owned when missing).
fn parents(items: &mut Items, path: &str, view: &LayerView, now: i64) {
    use std::os::unix::fs::MetadataExt;
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    for i in 1..parts.len() {
        let p = parts[..i].join("/");
        if items.contains(&p) {
            continue;
        }
        let (mode, owner, mtime) = match view.lookup(&p) {
            Some((_, m)) if m.is_dir() => (m.mode() & 0o7777, (m.uid(), m.gid()), m.mtime()),
            _ => (0o755, (0, 0), now),
        };
        items.put(Item {
            path: p,
            kind: ItemKind::Dir,
            mode,
            owner: Some(owner),
            mtime,
        });
    }
}

/// Expands the words of one COPY/ADD and makes its errors (both name the Dockerfile line).
struct Expander<'a> {
    expand: &'a dyn Fn(&str) -> Result<String, WordError>,
    file: &'a str,
    line: usize,
}

impl Expander<'_> {
    fn at(&self, what: String) -> EngineError {
        EngineError::Build(super::BuildError::At {
            file: self.file.to_string(),
            line: self.line,
            what,
        })
    }

    fn word(&self, s: &str) -> Result<String, EngineError> {
        (self.expand)(s).map_err(|e| self.at(e.to_string()))
    }

    fn optional(&self, s: &Option<String>) -> Result<Option<String>, EngineError> {
        s.as_deref().map(|s| self.word(s)).transpose()
    }
}

/// COPY/ADD's sources, destination and flags, expanded.
struct Args {
    keyword: &'static str,
    sources: Vec<String>,
    dest: String,
    owner: Option<(u32, u32)>,
    mode: Option<u32>,
    from: Option<String>,
    checksum: Option<String>,
}

impl Args {
    fn expand(c: &CopyArgs, view: &LayerView, x: &Expander) -> Result<Args, EngineError> {
        let mut sources = Vec::new();
        for a in &c.args {
            // Heredoc sources keep their marker; their bodies are expanded separately.
            if a.starts_with("<<") {
                sources.push(a.clone());
            } else {
                sources.push(x.word(a)?);
            }
        }
        let dest = sources.pop().expect("parser requires two arguments");
        let owner = match x.optional(&c.chown)? {
            Some(s) => Some(chown(&s, view).map_err(|e| x.at(e))?),
            None => None,
        };
        let mode = match x.optional(&c.chmod)? {
            Some(s) => Some(chmod(&s).map_err(|e| x.at(e))?),
            None => None,
        };
        Ok(Args {
            keyword: if c.add { "ADD" } else { "COPY" },
            sources,
            dest,
            owner,
            mode,
            from: x.optional(&c.from)?,
            checksum: x.optional(&c.checksum)?,
        })
    }
}

/// Decide what COPY/ADD `c` copies, on top of `state`.
pub(super) fn plan(
    b: &mut Builder,
    stage: usize,
    state: &State,
    c: &CopyArgs,
    line: usize,
    expand: impl Fn(&str) -> Result<String, WordError>,
) -> Result<Plan, EngineError> {
    let file = b.df.file.clone();
    let x = Expander {
        expand: &expand,
        file: &file,
        line,
    };
    let view = b.view(state);
    let args = Args::expand(c, &view, &x)?;
    let now = b
        .opts
        .timestamp
        .unwrap_or_else(|| jiff::Timestamp::now().as_second());
    let mut digest = Sha256Writer::new();
    let matched = match_sources(b, stage, c, &args, &x, now, &mut digest)?;
    let (real, dest_dir) = destination(&view, state, &args.dest);
    if matched.len() > 1 && !dest_dir {
        return Err(x.at(format!(
            "when using {} with more than one source file, the destination must be a directory and end with a /",
            args.keyword
        )));
    }
    if c.parents {
        return Err(x.at(format!("{} --parents is not supported", args.keyword)));
    }
    let excludes = if c.excludes.is_empty() {
        None
    } else {
        let lines = c
            .excludes
            .iter()
            .map(|e| x.word(e))
            .collect::<Result<Vec<_>, _>>()?;
        Some(
            super::ignore::Ignore::parse(&lines.join("\n"), "--exclude")
                .map_err(|e| x.at(e.to_string()))?,
        )
    };
    let target = Target {
        real,
        dest_dir,
        owner: args.owner,
        mode: args.mode,
    };
    let items = place(matched, excludes.as_ref(), &target, &view, now);
    hash_items(&items, &mut digest);
    Ok(Plan {
        text: step_text(c, &args),
        content: digest.finish(),
        items: items.list,
    })
}

/// Every source word matched: heredocs, URLs (ADD), files of the context or of `--from`'s image.
/// What they are goes into `digest`.
fn match_sources(
    b: &mut Builder,
    stage: usize,
    c: &CopyArgs,
    args: &Args,
    x: &Expander,
    now: i64,
    digest: &mut Sha256Writer,
) -> Result<Vec<Matched>, EngineError> {
    let source_view = match &args.from {
        Some(f) => {
            let src = b.source_state(f, stage)?;
            std::io::Write::write_all(digest, format!("from {}\n", src.key).as_bytes())
                .expect("hashing cannot fail");
            Some(b.view(&src))
        }
        None => None,
    };
    let mut matched: Vec<Matched> = Vec::new();
    for w in &args.sources {
        if let Some(name) = w.strip_prefix("<<") {
            matched.push(heredoc_source(c, args.keyword, name, x, now, digest)?);
            continue;
        }
        if c.add && (w.starts_with("http://") || w.starts_with("https://")) {
            matched.push(url_source(b, w, args.checksum.as_deref(), x, now, digest)?);
            continue;
        }
        if !c.add && args.from.is_none() && (w.starts_with("http://") || w.starts_with("https://"))
        {
            return Err(x.at(format!(
                "source can't be a URL for COPY: `{w}` (fetch it with ADD)"
            )));
        }
        if args.checksum.is_some() {
            return Err(x.at("ADD --checksum is only supported for HTTP(S) sources".into()));
        }
        let found = match &source_view {
            Some(v) => match_view(v, w),
            None => match_context(b, w, c.add, digest)?,
        };
        if found.is_empty() {
            return Err(x.at(format!(
                "{} failed: no source files were specified: `{w}` is not in the {}",
                args.keyword,
                if args.from.is_some() {
                    "source image or stage"
                } else {
                    "build context"
                }
            )));
        }
        matched.extend(found);
    }
    Ok(matched)
}

/// A `<<NAME` source: the heredoc's body as a file.
fn heredoc_source(
    c: &CopyArgs,
    keyword: &str,
    marker: &str,
    x: &Expander,
    now: i64,
    digest: &mut Sha256Writer,
) -> Result<Matched, EngineError> {
    let name = marker.trim_start_matches('-').trim_matches(['"', '\'']);
    let h = c
        .heredocs
        .iter()
        .find(|h| h.name == name)
        .ok_or_else(|| x.at(format!("no heredoc `{name}` for {keyword}")))?;
    let body = if h.expand {
        x.word(&h.content)?
    } else {
        h.content.clone()
    };
    digest.update(body.as_bytes());
    Ok(Matched {
        name: name.to_string(),
        items: vec![Item {
            path: String::new(),
            kind: ItemKind::File(Content::Bytes(Arc::new(body.into_bytes()))),
            mode: 0o644,
            owner: Some((0, 0)),
            mtime: now,
        }],
        is_dir: false,
    })
}

/// An ADD URL: fetched, checked against `--checksum`.
fn url_source(
    b: &mut Builder,
    url: &str,
    checksum: Option<&str>,
    x: &Expander,
    now: i64,
    digest: &mut Sha256Writer,
) -> Result<Matched, EngineError> {
    let fetched = super::fetch::fetch(b.ctx, url, b.opts.tls_verify)?;
    if let Some(want) = checksum
        && *want != fetched.digest.to_string()
    {
        return Err(x.at(format!(
            "checksum mismatch for `{url}`: expected `{want}`, got `{}`",
            fetched.digest
        )));
    }
    std::io::Write::write_all(digest, format!("url {url} {}\n", fetched.digest).as_bytes())
        .expect("hashing cannot fail");
    Ok(Matched {
        name: fetched.name.clone(),
        items: vec![Item {
            path: String::new(),
            kind: ItemKind::File(Content::Temp(Arc::new(fetched.file))),
            mode: 0o600,
            owner: Some((0, 0)),
            mtime: fetched.mtime.unwrap_or(now),
        }],
        is_dir: false,
    })
}

/// Where the sources go in the image (symlinks resolved) and whether that is a directory (the
/// destination ends with `/`, or already is one).
fn destination(view: &LayerView, state: &State, dest: &str) -> (String, bool) {
    let workdir = state.workdir();
    let dest_abs = if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!("{}/{dest}", workdir.trim_end_matches('/'))
    };
    let mut dest_dir = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
    let resolved_parent = view.resolve(&dest_abs, false);
    let resolved_full = view.resolve(&dest_abs, true);
    if view.lookup(&resolved_full).is_some_and(|(_, m)| m.is_dir()) {
        dest_dir = true;
    }
    let real = if dest_dir {
        resolved_full
    } else {
        resolved_parent
    };
    (clean(&real), dest_dir)
}

/// The destination and what `--chown`/`--chmod` impose.
struct Target {
    real: String,
    dest_dir: bool,
    owner: Option<(u32, u32)>,
    mode: Option<u32>,
}

/// The matched items at their destination paths (minus `--exclude`d ones), with the parent
/// directories they need.
fn place(
    matched: Vec<Matched>,
    excludes: Option<&super::ignore::Ignore>,
    target: &Target,
    view: &LayerView,
    now: i64,
) -> Items {
    let mut items = Items::default();
    for mut m in matched {
        if let Some(ex) = excludes {
            let name = base_name(&m.name).to_string();
            m.items.retain(|it| {
                let rel = if it.path.is_empty() {
                    name.as_str()
                } else {
                    it.path.as_str()
                };
                it.path.is_empty() && m.is_dir || !ex.excluded(rel)
            });
        }
        let root = if !m.is_dir && target.dest_dir {
            join(&target.real, base_name(&m.name))
        } else {
            target.real.clone()
        };
        for mut it in m.items {
            it.path = join(&root, &it.path);
            // The image root itself is left as it is, but an archive is unpacked into it.
            if it.path.is_empty() && !matches!(it.kind, ItemKind::Archive(_)) {
                continue;
            }
            if let Some(o) = target.owner {
                it.owner = Some(o);
            }
            if let Some(md) = target.mode {
                it.mode = md;
            }
            parents(&mut items, &it.path, view, now);
            items.put(it);
        }
    }
    items
}

/// Each item's path, kind, mode and owner, into the step's content digest.
fn hash_items(items: &Items, digest: &mut Sha256Writer) {
    for it in &items.list {
        let kind = match &it.kind {
            ItemKind::Dir => "dir".to_string(),
            ItemKind::Symlink(t) => format!("link {}", t.display()),
            ItemKind::File(_) => "file".to_string(),
            ItemKind::Archive(_) => "archive".to_string(),
        };
        std::io::Write::write_all(
            digest,
            format!("{} {kind} {:o} {:?}\n", it.path, it.mode, it.owner).as_bytes(),
        )
        .expect("hashing cannot fail");
    }
}

/// The step as recorded: keyword, flags, sources and destination.
fn step_text(c: &CopyArgs, args: &Args) -> String {
    let mut text = String::from(args.keyword);
    for (flag, v) in [
        ("from", &args.from),
        ("chown", &c.chown),
        ("chmod", &c.chmod),
        ("checksum", &args.checksum),
    ] {
        if let Some(v) = v {
            text.push_str(&format!(" --{flag}={v}"));
        }
    }
    text.push_str(&format!(" {} {}", args.sources.join(" "), args.dest));
    text
}

/// Sources from the build context (globs, directories' contents, ADD archives).
fn match_context(
    b: &mut Builder,
    pattern: &str,
    add: bool,
    digest: &mut Sha256Writer,
) -> Result<Vec<Matched>, EngineError> {
    let p = clean(pattern);
    let index = b.context.index()?.clone();
    let names: Vec<String> = if has_glob(&p) {
        let re = glob_regex(&p, false).map_err(|why| BuildError::Glob {
            pattern: p.clone(),
            why,
        })?;
        index.keys().filter(|k| re.is_match(k)).cloned().collect()
    } else if index.contains_key(&p) {
        vec![p.clone()]
    } else {
        vec![]
    };
    let mut out = Vec::new();
    for name in names {
        let (e, host_name) = follow_links(&index, &name);
        let mut items = Vec::new();
        let is_dir = e.kind == EntryKind::Dir;
        if is_dir {
            items = dir_items(b, &index, &e, &host_name, digest)?;
        } else {
            let mut it = context_item(b, &host_name, "", &e, digest)?;
            if add && e.kind == EntryKind::File && is_archive(&b.context.host_path(&host_name)) {
                it.kind = ItemKind::Archive(Content::Host(b.context.host_path(&host_name)));
                it.owner = None;
                out.push(Matched {
                    name: name.clone(),
                    items: vec![it],
                    is_dir: true,
                });
                continue;
            }
            items.push(it);
        }
        out.push(Matched {
            name,
            items,
            is_dir,
        });
    }
    Ok(out)
}

/// The context entry `name` stands for: the source itself is followed when it is a symlink (inside
/// the context only); the entry and its name.
fn follow_links(index: &BTreeMap<String, Entry>, name: &str) -> (Entry, String) {
    let mut e = index[name].clone();
    let mut host_name = name.to_string();
    let mut hops = 0;
    while e.kind == EntryKind::Symlink && hops < 16 {
        let t = e.link.clone().unwrap_or_default();
        let t = t.to_string_lossy();
        let target = if t.starts_with('/') {
            clean(&t)
        } else {
            clean(&format!(
                "{}/{t}",
                name.rsplit_once('/').map_or("", |p| p.0)
            ))
        };
        match index.get(&target) {
            Some(te) => {
                e = te.clone();
                host_name = target;
            }
            None => break,
        }
        hops += 1;
    }
    (e, host_name)
}

/// A context directory `host_name` (entry `e`) and everything under it, as items.
fn dir_items(
    b: &Builder,
    index: &BTreeMap<String, Entry>,
    e: &Entry,
    host_name: &str,
    digest: &mut Sha256Writer,
) -> Result<Vec<Item>, EngineError> {
    let mut items = vec![Item {
        path: String::new(),
        kind: ItemKind::Dir,
        mode: e.mode,
        owner: Some((0, 0)),
        mtime: e.mtime,
    }];
    let prefix = if host_name.is_empty() {
        String::new()
    } else {
        format!("{host_name}/")
    };
    for (k, ce) in index.range(prefix.clone()..) {
        if !k.starts_with(&prefix) {
            break;
        }
        if k.is_empty() {
            continue;
        }
        let rel = &k[prefix.len()..];
        items.push(context_item(b, k, rel, ce, digest)?);
    }
    Ok(items)
}

fn context_item(
    b: &Builder,
    host_rel: &str,
    rel: &str,
    e: &super::context::Entry,
    digest: &mut Sha256Writer,
) -> Result<Item, EngineError> {
    let kind = match e.kind {
        EntryKind::Dir => ItemKind::Dir,
        EntryKind::Symlink => ItemKind::Symlink(e.link.clone().unwrap_or_default()),
        EntryKind::File => {
            let d = b.context.file_digest(host_rel, e)?;
            std::io::Write::write_all(digest, format!("{rel} {d}\n").as_bytes())
                .expect("hashing cannot fail");
            ItemKind::File(Content::Host(b.context.host_path(host_rel)))
        }
        EntryKind::Other => {
            return Err(BuildError::NotAFile(host_rel.to_string()).into());
        }
    };
    Ok(Item {
        path: rel.to_string(),
        kind,
        mode: e.mode,
        owner: Some((0, 0)),
        mtime: e.mtime,
    })
}

/// Sources from another stage or image (by path; `*`/`?` in the last element).
fn match_view(v: &LayerView, pattern: &str) -> Vec<Matched> {
    let abs = format!("/{}", clean(pattern));
    let (dir, last) = abs.rsplit_once('/').unwrap_or(("", &abs));
    let candidates: Vec<String> = if has_glob(last) {
        let Ok(re) = glob_regex(last, false) else {
            return vec![];
        };
        let d = v.resolve(if dir.is_empty() { "/" } else { dir }, true);
        v.list(&d)
            .into_iter()
            .filter(|n| re.is_match(n))
            .map(|n| format!("{}/{n}", d.trim_end_matches('/')))
            .collect()
    } else {
        vec![v.resolve(&abs, true)]
    };
    let mut out = Vec::new();
    for c in candidates {
        let Some((_, m)) = v.lookup(&c) else { continue };
        let mut items = Vec::new();
        let is_dir = m.is_dir();
        view_items(v, &c, "", &m, &mut items);
        out.push(Matched {
            name: c,
            items,
            is_dir,
        });
    }
    out
}

fn view_items(v: &LayerView, abs: &str, rel: &str, m: &std::fs::Metadata, out: &mut Vec<Item>) {
    use std::os::unix::fs::MetadataExt;
    let Some((host, _)) = v.lookup(abs) else {
        return;
    };
    let kind = if m.is_dir() {
        ItemKind::Dir
    } else if m.file_type().is_symlink() {
        ItemKind::Symlink(std::fs::read_link(&host).unwrap_or_default())
    } else if m.is_file() {
        ItemKind::File(Content::Host(host))
    } else {
        return;
    };
    out.push(Item {
        path: rel.to_string(),
        kind,
        mode: m.mode() & 0o7777,
        owner: Some((0, 0)),
        mtime: m.mtime(),
    });
    if m.is_dir() {
        for name in v.list(abs) {
            let child = format!("{}/{name}", abs.trim_end_matches('/'));
            if let Some((_, cm)) = v.lookup(&child) {
                view_items(v, &child, &join(rel, &name), &cm, out);
            }
        }
    }
}

fn open(c: &Content) -> std::io::Result<(Box<dyn Read + '_>, u64)> {
    Ok(match c {
        Content::Host(p) => {
            let f = std::fs::File::open(p)?;
            let len = f.metadata()?.len();
            (Box::new(f), len)
        }
        Content::Bytes(v) => (Box::new(&v[..]), v.len() as u64),
        Content::Temp(t) => {
            let mut f = t.try_clone()?;
            f.rewind()?;
            let len = f.metadata()?.len();
            (Box::new(f), len)
        }
    })
}

fn header(kind: tar::EntryType, it: &Item, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(it.mode);
    let (uid, gid) = it.owner.unwrap_or((0, 0));
    h.set_uid(uid.into());
    h.set_gid(gid.into());
    h.set_mtime(it.mtime.max(0) as u64);
    h.set_size(size);
    h
}

/// For a host file with other hard links: its (device, inode), to link the copies again.
fn link_key(c: &Content) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    match c {
        Content::Host(p) => std::fs::symlink_metadata(p)
            .ok()
            .filter(|m| m.is_file() && m.nlink() > 1)
            .map(|m| (m.dev(), m.ino())),
        _ => None,
    }
}

/// Writes the plan as a tar; files that are hard links of each other on the host stay hard
/// links of each other in the layer (as buildah copies them).
fn write_items(plan: &Plan, out: impl std::io::Write) -> std::io::Result<()> {
    let mut tb = tar::Builder::new(out);
    let mut linked: std::collections::HashMap<(u64, u64), &str> = std::collections::HashMap::new();
    for it in &plan.items {
        if let ItemKind::File(c) = &it.kind
            && let Some(key) = link_key(c)
        {
            if let Some(first) = linked.get(&key) {
                let mut h = header(tar::EntryType::Link, it, 0);
                tb.append_link(&mut h, &it.path, first)?;
                continue;
            }
            linked.insert(key, &it.path);
        }
        match &it.kind {
            ItemKind::Dir => {
                let mut h = header(tar::EntryType::Directory, it, 0);
                tb.append_data(&mut h, format!("{}/", it.path), std::io::empty())?;
            }
            ItemKind::Symlink(t) => {
                let mut h = header(tar::EntryType::Symlink, it, 0);
                tb.append_link(&mut h, &it.path, t)?;
            }
            ItemKind::File(c) => {
                let (r, len) = open(c)?;
                let mut h = header(tar::EntryType::Regular, it, len);
                tb.append_data(&mut h, &it.path, r)?;
            }
            ItemKind::Archive(c) => unpack_into(&mut tb, c, it)?,
        }
    }
    tb.finish()
}

/// ADD of a local archive: its entries, moved under the item's path.
fn unpack_into<W: std::io::Write>(
    tb: &mut tar::Builder<W>,
    c: &Content,
    it: &Item,
) -> std::io::Result<()> {
    let (r, _) = open(c)?;
    let plain = crate::archive::decompress_archive(BufReader::new(r))?;
    let mut a = tar::Archive::new(plain);
    for entry in a.entries()? {
        let mut entry = entry?;
        let rel = clean(&entry.path()?.to_string_lossy());
        let path = join(&it.path, &rel);
        if path.is_empty() {
            continue;
        }
        let mut h = entry.header().clone();
        if let Some((uid, gid)) = it.owner {
            h.set_uid(uid.into());
            h.set_gid(gid.into());
        }
        let ty = h.entry_type();
        if ty.is_symlink() {
            let target = entry.link_name()?.unwrap_or_default().into_owned();
            tb.append_link(&mut h, &path, target)?;
        } else if ty.is_hard_link() {
            let target = entry.link_name()?.unwrap_or_default();
            let target = join(&it.path, &clean(&target.to_string_lossy()));
            tb.append_link(&mut h, &path, target)?;
        } else if ty.is_dir() {
            tb.append_data(&mut h, format!("{path}/"), std::io::empty())?;
        } else if ty.is_file() || ty == tar::EntryType::Continuous {
            tb.append_data(&mut h, &path, &mut entry)?;
        }
    }
    Ok(())
}

/// Write the plan as a layer on top of `parent` and ingest it.
pub(super) fn write(
    b: &mut Builder,
    plan: &Plan,
    parent: Option<&Digest>,
) -> Result<Ingested, EngineError> {
    let tmp_dir = b.store.root().join("tmp");
    let mut f = tempfile::tempfile_in(&tmp_dir)
        .map_err(|e| EngineError::io("create a temporary file in", &tmp_dir, e))?;
    write_items(plan, std::io::BufWriter::new(&mut f))
        .map_err(|e| EngineError::io("write the layer for", plan.text.clone(), e))?;
    f.rewind()
        .map_err(|e| EngineError::io("read", &tmp_dir, e))?;
    let slot = LayerSlot {
        image: plan.text.clone(),
        diff_id: None,
        chain_id: None,
        parent: parent.cloned(),
        blob_digest: None,
    };
    let opts = b.ctx.apply_options();
    ingest(&mut b.store, BufReader::new(f), &slot, &opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chown_and_chmod() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/passwd"),
            "root:x:0:0::/:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(t.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        let v = LayerView::new(vec![t.path().to_path_buf()]);
        assert_eq!(chown("user", &v).unwrap(), (1000, 1000));
        assert_eq!(chown("user:staff", &v).unwrap(), (1000, 50));
        assert_eq!(chown("7:8", &v).unwrap(), (7, 8));
        assert!(chown("nobody", &v).is_err());
        assert_eq!(chmod("0755").unwrap(), 0o755);
        assert!(chmod("9").is_err());
    }

    #[test]
    fn joins() {
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("/app/", "b/c"), "app/b/c");
        assert_eq!(join("app", ""), "app");
        assert_eq!(base_name("/a/b/"), "b");
    }
}
