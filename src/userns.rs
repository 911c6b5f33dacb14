//! TODO: userns
