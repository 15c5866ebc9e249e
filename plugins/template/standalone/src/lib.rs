//! `TeamCheck`: allows a request whose `x-team` header is one of `teams`.
use gatehouse_plugin_sdk::prelude::*;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub teams: Vec<String>,
}

pub struct TeamCheck(pub Config);

impl Plugin for TeamCheck {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        match config.teams.is_empty() {
            true => Err("teams: give at least one".into()),
            false => Ok(Self(config)),
        }
    }

    async fn authorize(&self, request: &Request) -> Result<Response, Error> {
        match request.header("x-team") {
            Some(team) if self.0.teams.iter().any(|t| t == team) => Ok(allow().set_header("x-team-checked", team)),
            _ => Ok(deny(403, "team not allowed")),
        }
    }
}

export_plugins!("TeamCheck" => TeamCheck);
