//! Host test: the built .so in the real `gatehouse` ($GATEHOUSE_BIN or PATH).
use gatehouse_test_support::{Host, Step};

#[test]
fn the_host_runs_the_plugin() {
    let host = Host::start(&[Step::new("team", "TeamCheck", "{teams: [platform]}")]).unwrap();
    let ok = host.check("/", &[("x-team", "platform")]).unwrap();
    assert_eq!((ok.status, ok.header("x-team-checked")), (200, Some("platform")), "{ok:?}");
    assert_eq!(host.check("/", &[("x-team", "sales")]).unwrap().status, 403);
}
