//! `Access`: which organizations a caller may see and with what role. Instance-wide
//! tokens (made with the CLI, no user) see everything; users see their organizations.

use sextant_storage::{Membership, Project, Role, Store, User};

#[derive(Debug, Clone)]
pub enum Access {
    /// A CLI token: the operator of the instance.
    Instance,
    User {
        user: User,
        memberships: Vec<Membership>,
    },
}

impl Access {
    /// Looks the memberships up now: nothing is cached, so a removed member loses access
    /// with the next request.
    pub async fn for_user(
        store: &dyn Store,
        user: User,
    ) -> Result<Access, sextant_storage::StoreError> {
        let memberships = store.memberships(user.id).await?;
        Ok(Access::User { user, memberships })
    }

    /// The caller's role in the organization with this slug, if any.
    pub fn role_in_slug(&self, org_slug: &str) -> Option<Role> {
        match self {
            Access::Instance => Some(Role::Owner),
            Access::User { memberships, .. } => memberships
                .iter()
                .find(|m| m.org.slug == org_slug)
                .map(|m| m.role),
        }
    }

    pub fn role_in(&self, org_id: i64) -> Option<Role> {
        match self {
            Access::Instance => Some(Role::Owner),
            Access::User { memberships, .. } => memberships
                .iter()
                .find(|m| m.org.id == org_id)
                .map(|m| m.role),
        }
    }

    pub fn sees_org(&self, org_id: i64) -> bool {
        self.role_in(org_id).is_some()
    }

    pub fn sees_project(&self, project: &Project) -> bool {
        self.sees_org(project.org_id)
    }

    pub fn user(&self) -> Option<&User> {
        match self {
            Access::Instance => None,
            Access::User { user, .. } => Some(user),
        }
    }
}
