//! `traced::span!` around sync and async blocks.
// These tests exercise the expansion; with the feature `off` the attribute expands to nothing.
#![cfg(not(feature = "off"))]
#[test]
fn sync_block_returns_its_value() {
    let n = 3_u32;
    let v: Result<u32, std::io::Error> =
        traced::span!("blk", n = n, db.system = "x"; { Ok(n + 1) });
    assert_eq!(v.unwrap(), 4);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let out = rt.block_on(traced::span!("ablk", k = 1; async move { n * 2 }));
    assert_eq!(out, 6);
}
