//! Gloo's RequiredHeader example, ported line by line (docs/porting-from-gloo.md).

use std::collections::HashSet;

use gatehouse_plugin_sdk::prelude::*;

// type Config struct { RequiredHeader string; AllowedValues []string }
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(alias = "RequiredHeader")]
    required_header: String,
    #[serde(alias = "AllowedValues")]
    allowed_values: Vec<String>,
}

// type RequiredHeaderAuthService struct { RequiredHeader string; AllowedValues map[string]bool }
struct RequiredHeader {
    required_header: String,
    allowed_values: HashSet<String>,
}

impl Plugin for RequiredHeader {
    // NewConfigInstance: return &Config{} — the SDK deserializes into this type.
    type Config = Config;

    // GetAuthService: no type assertion; the config arrives typed.
    fn new(config: Config) -> Result<Self, Error> {
        info!(
            required_header = %config.required_header,
            allowed_header_values = ?config.allowed_values,
            "Parsed RequiredHeaderAuthService config"
        );
        // valueMap := map[string]bool{} ... valueMap[v] = true
        let allowed_values = config.allowed_values.into_iter().collect();
        Ok(Self {
            required_header: config.required_header,
            allowed_values,
        })
    }

    // Start(context.Context) error { return nil }: the default `start` does nothing.

    async fn authorize(&self, request: &Request) -> Result<Response, Error> {
        // for key, value := range ...GetHeaders() { if key == c.RequiredHeader {
        let Some(value) = request.header(&self.required_header) else {
            info!("Required header not found, denying access");
            return Ok(deny(403, "required header not found")); // api.UnauthorizedResponse()
        };
        info!(header = %self.required_header, value, "Found required header, checking value.");
        // if _, ok := c.AllowedValues[value]; ok {
        if self.allowed_values.contains(value) {
            info!("Header value match. Allowing request.");
            // api.AuthorizedResponse() + OkResponse.Headers{matched-allowed-headers: true}
            return Ok(allow().set_header("matched-allowed-headers", "true"));
        }
        info!("Header value does not match allowed values, denying access.");
        Ok(deny(403, "header value not allowed")) // api.UnauthorizedResponse()
    }
}

// var Plugin impl.RequiredHeaderPlugin
export_plugins!("RequiredHeader" => RequiredHeader);
