//! tch puts no run-time search path on downstream binaries; point this crate's
//! tests and examples at the libtorch they were linked against.
fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
