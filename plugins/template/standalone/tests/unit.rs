//! Unit tests: the plugin's logic, no host.
use gatehouse_plugin_sdk::{testing, Request, ResponseView};
use {{crate_name}}::{Config, TeamCheck};

#[test]
fn listed_teams_pass_and_others_are_refused() {
    let plugin = TeamCheck(Config { teams: vec!["platform".into()] });
    let ok = testing::authorize(&plugin, &testing::request(&[("x-team", "platform")])).unwrap();
    assert!(ok.is_allowed());
    let sales = Request::builder().method("POST").header("X-Team", "sales").build();
    let no = testing::authorize(&plugin, &sales).unwrap();
    assert_eq!(no.deny_status(), Some(403));
    assert!(testing::config_error::<TeamCheck>(r#"{"teams": []}"#).contains("give at least one"));
}
