//! TODO: error
