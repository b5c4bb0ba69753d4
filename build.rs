//! Compiles the small C helper that gives us Redis's `long double` arithmetic and formatting.
fn main() {
    println!("cargo:rerun-if-changed=src/native/longdouble.c");
    cc::Build::new()
        .file("src/native/longdouble.c")
        .warnings(true)
        .compile("kiwi_native");
}
