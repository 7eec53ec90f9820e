//! The committed CRD files are exactly what the Rust types generate: change `crd.rs`, then
//! run `cargo run -p grape-operator -- crd`.

#[test]
fn committed_crd_files_match_the_rust_types() {
    let root = grape_k8s_harness::checkout();
    let files = grape_operator::crd::crd_files().unwrap();
    assert_eq!(files.len(), 2);
    for dir in ["crds", "helm/grape-operator/crds"] {
        for (name, generated) in &files {
            let path = root.join(dir).join(name);
            let committed = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                committed == *generated,
                "{} differs from the Rust types; run `cargo run -p grape-operator -- crd`",
                path.display()
            );
        }
    }
}
