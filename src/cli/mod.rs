//! Command-line layer: parse, call the engine, print.
pub mod format;

pub fn main() -> i32 {
    0
}
