//! tag_rmi
