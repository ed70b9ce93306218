// Cargo reads a package's [build-dependencies] only when it has a build
// script: this empty one lets the build-dependency features in Cargo.toml
// count too (see src/lib.rs).
fn main() {}
