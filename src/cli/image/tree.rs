//! `image tree`: podman's layout (gotree's `├──`/`└──` branches under a header).
use super::TreeArgs;
use crate::cli::format::human_size_with_precision;
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::image::{ImageTree, TreeLayer};
use crate::error::Error;

pub fn tree(ctx: &Ctx, args: &TreeArgs) -> Result<i32, Error> {
    let t = crate::engine::image::tree(ctx, &args.image, args.whatrequires)?;
    out(&render(&t, args.whatrequires)).map(|()| 0)
}

/// A printed tree: a text and its items.
#[derive(Default)]
struct Node {
    text: String,
    items: Vec<Node>,
}

fn render(t: &ImageTree, what_requires: bool) -> String {
    let mut root = Node {
        text: header(t),
        items: Vec::new(),
    };
    if what_requires {
        for l in &t.layers {
            add_with_children(l, &mut root);
        }
    } else {
        root.items = t.layers.iter().map(|l| leaf(line(l))).collect();
    }
    print(&root)
}

fn header(t: &ImageTree) -> String {
    let hex = t.id.hex();
    format!(
        "Image ID: {}\nTags:     {}\nSize:     {}\n{}",
        &hex[..12.min(hex.len())],
        go_list(&t.names),
        human_size_with_precision(t.size as f64, 4),
        if t.layers.is_empty() {
            "No Image Layers"
        } else {
            "Image Layers"
        }
    )
}

/// `ID: 0123456789ab Size: 12.29kB Top Layer of: [NAME]`, the size padded to 7 as podman's `%7v`.
fn line(l: &TreeLayer) -> String {
    let hex = l.id.hex();
    let tags = if l.top_of.is_empty() {
        String::new()
    } else {
        format!(" Top Layer of: {}", go_list(&l.top_of))
    };
    format!(
        "ID: {} Size: {:>7}{tags}",
        &hex[..12.min(hex.len())],
        human_size_with_precision(l.size as f64, 4)
    )
}

/// A list as Go's `%s` prints a `[]string`: `[a b]`.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

fn leaf(text: String) -> Node {
    Node {
        text,
        items: Vec::new(),
    }
}

/// podman's `--whatrequires` walk: a layer without siblings continues its parent's branch, one
/// with siblings opens a branch of its own.
fn add_with_children(l: &TreeLayer, parent: &mut Node) {
    if !l.has_siblings {
        parent.items.push(leaf(line(l)));
        for c in &l.children {
            add_with_children(c, parent);
        }
        return;
    }
    let mut own = leaf(line(l));
    for c in &l.children {
        add_with_children(c, &mut own);
    }
    parent.items.push(own);
}

fn print(root: &Node) -> String {
    let mut s = format!("{}\n", root.text);
    print_items(&root.items, &mut Vec::new(), &mut s);
    s
}

fn print_items(items: &[Node], spaces: &mut Vec<bool>, s: &mut String) {
    for (i, n) in items.iter().enumerate() {
        let last = i + 1 == items.len();
        let indent: String = spaces
            .iter()
            .map(|&done| if done { "    " } else { "│   " })
            .collect();
        for (j, text) in n.text.split('\n').enumerate() {
            let mark = match (j, last) {
                (0, false) => "├── ",
                (0, true) => "└── ",
                (_, false) => "│   ",
                (_, true) => "    ",
            };
            s.push_str(&format!("{indent}{mark}{text}\n"));
        }
        spaces.push(last);
        print_items(&n.items, spaces, s);
        spaces.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::Digest;

    fn layer(n: u8, size: u64, top_of: &[&str], children: Vec<TreeLayer>) -> TreeLayer {
        TreeLayer {
            id: Digest::sha256_of(&[n]),
            size,
            top_of: top_of.iter().map(|s| s.to_string()).collect(),
            children,
            has_siblings: false,
        }
    }

    #[test]
    fn lists_layers_base_first_under_podmans_header() {
        let t = ImageTree {
            id: Digest::sha256_of(b"img"),
            names: vec!["localhost/a:latest".into(), "localhost/b:1".into()],
            size: 14_535_315,
            layers: vec![
                layer(1, 14_520_000, &["quay.io/x:1"], vec![]),
                layer(2, 7_680, &["localhost/a:latest", "localhost/b:1"], vec![]),
            ],
        };
        let out = render(&t, false);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], format!("Image ID: {}", &t.id.hex()[..12]));
        assert_eq!(lines[1], "Tags:     [localhost/a:latest localhost/b:1]");
        assert_eq!(lines[2], "Size:     14.54MB");
        assert_eq!(lines[3], "Image Layers");
        assert!(
            lines[4].starts_with("├── ID: ")
                && lines[4].ends_with(" Size: 14.52MB Top Layer of: [quay.io/x:1]")
        );
        assert!(
            lines[5].starts_with("└── ID: ")
                && lines[5]
                    .contains(" Size:  7.68kB Top Layer of: [localhost/a:latest localhost/b:1]")
        );
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn what_requires_branches_where_images_diverge() {
        let mut a = layer(3, 1, &["a"], vec![]);
        a.has_siblings = true;
        let mut b = layer(4, 1, &["b"], vec![]);
        b.has_siblings = true;
        let t = ImageTree {
            id: Digest::sha256_of(b"img"),
            names: vec![],
            size: 0,
            layers: vec![layer(1, 1, &["base"], vec![layer(2, 1, &[], vec![a, b])])],
        };
        let out = render(&t, true);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1], "Tags:     []");
        assert!(
            lines[4].starts_with("├── ID:") && lines[4].ends_with("[base]"),
            "{out}"
        );
        assert!(lines[5].starts_with("├── ID:"), "{out}");
        assert!(
            lines[6].starts_with("├── ID:") && lines[6].ends_with("[a]"),
            "{out}"
        );
        assert!(
            lines[7].starts_with("└── ID:") && lines[7].ends_with("[b]"),
            "{out}"
        );
    }

    #[test]
    fn nested_items_are_indented() {
        let root = Node {
            text: "root".into(),
            items: vec![
                Node {
                    text: "x".into(),
                    items: vec![leaf("x1".into())],
                },
                leaf("y".into()),
            ],
        };
        assert_eq!(print(&root), "root\n├── x\n│   └── x1\n└── y\n");
    }
}
