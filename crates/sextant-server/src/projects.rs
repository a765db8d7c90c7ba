//! Creating projects, shared by the API, the console and the CLI: slugs derived from
//! names, and the DSN key every new project comes with (as in Sentry, whose tools read it
//! right after creating the project).

use sextant_storage::{Project, ProjectKey, Store, StoreError};

pub const MAX_SLUG_LEN: usize = 50;

/// Lowercase letters and digits joined by single dashes: `"My Web App!"` → `"my-web-app"`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    slug[..slug.len().min(MAX_SLUG_LEN)]
        .trim_end_matches('-')
        .to_string()
}

/// Creates the project and its first DSN key. `Conflict` when the slug is taken.
pub async fn create_with_key(
    store: &dyn Store,
    org_id: i64,
    slug: &str,
    name: &str,
    platform: Option<&str>,
) -> Result<(Project, ProjectKey), StoreError> {
    let project = store.create_project(org_id, slug, name, platform).await?;
    let key = store.create_key(project.id, "Default").await?;
    Ok((project, key))
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs_are_lowercase_dashed_and_bounded() {
        assert_eq!(slugify("My Web App!"), "my-web-app");
        assert_eq!(slugify("  api  "), "api");
        assert_eq!(slugify(&"a".repeat(80)).len(), 50);
        assert_eq!(slugify("!!!"), "");
    }
}
