//! Unit tests: the plugin's logic, no host.
use gatehouse_plugin_sdk::{testing, Decision};
use {{crate_name}}::{Config, TeamCheck};

#[test]
fn listed_teams_pass_and_others_are_refused() {
    let plugin = TeamCheck(Config { teams: vec!["platform".into()] });
    let ok = testing::authorize(&plugin, &testing::request(&[("x-team", "platform")])).unwrap();
    assert_eq!(ok.decision, Decision::Allow);
    let no = testing::authorize(&plugin, &testing::request(&[("x-team", "sales")])).unwrap();
    assert_eq!((no.decision, no.status), (Decision::Deny, 403));
    assert!(testing::config_error::<TeamCheck>(r#"{"teams": []}"#).contains("give at least one"));
}
