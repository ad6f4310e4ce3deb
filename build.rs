//! Rebuild when embedded files change: `include_dir!` (static/) and
//! `sqlx::migrate!` (migrations/) read them at compile time, but proc macros
//! cannot tell cargo to watch them.
fn main() {
    println!("cargo:rerun-if-changed=static");
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=build.rs");
}
