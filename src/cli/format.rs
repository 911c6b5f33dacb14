//! --format rendering: json, Go templates, tables
