//! Ready-to-paste SDK set-up code for a DSN, shown in project settings and in the empty
//! issues list. Built as plain text; the templates escape it like any other value.

use sextant_storage::Project;

use super::error::UiResult;
use sextant_protocol::auth::format_dsn as dsn;

use crate::state::AppState;

pub struct Snippets {
    pub dsn: String,
    pub python: String,
    pub node: String,
    pub browser: String,
    pub rust: String,
}

impl Snippets {
    pub fn new(dsn: &str) -> Snippets {
        Snippets {
            dsn: dsn.to_string(),
            python: format!(
                "# pip install sentry-sdk\nimport sentry_sdk\n\nsentry_sdk.init(\n    dsn=\"{dsn}\",\n    \
                 release=\"my-app@1.0.0\",\n    environment=\"production\",\n)\n\n\
                 division_by_zero = 1 / 0  # sends a first event"
            ),
            node: format!(
                "// npm install @sentry/node\nconst Sentry = require(\"@sentry/node\");\n\n\
                 Sentry.init({{\n  dsn: \"{dsn}\",\n  release: \"my-app@1.0.0\",\n  \
                 environment: \"production\",\n}});\n\n\
                 Sentry.captureException(new Error(\"First event from Node\"));"
            ),
            browser: format!(
                "// npm install @sentry/browser\nimport * as Sentry from \"@sentry/browser\";\n\n\
                 Sentry.init({{\n  dsn: \"{dsn}\",\n  release: \"my-app@1.0.0\",\n}});\n\n\
                 Sentry.captureException(new Error(\"First event from the browser\"));"
            ),
            rust: format!(
                "// Cargo.toml: sentry = \"0.49\"\nfn main() {{\n    let _guard = sentry::init((\n        \
                 \"{dsn}\",\n        sentry::ClientOptions {{\n            \
                 release: sentry::release_name!(),\n            ..Default::default()\n        }},\n    \
                 ));\n    sentry::capture_message(\"First event from Rust\", sentry::Level::Error);\n}}"
            ),
        }
    }
}

/// The DSN of the project's first active key, or a placeholder saying there is none.
pub async fn first_dsn(state: &AppState, project: &Project) -> UiResult<String> {
    let keys = state.store.list_keys(project.id).await?;
    Ok(keys
        .iter()
        .find(|k| k.active)
        .map(|k| dsn(&state.base_url(), &k.public_key, project.id))
        .unwrap_or_else(|| "(no active key: create one in project settings)".into()))
}
