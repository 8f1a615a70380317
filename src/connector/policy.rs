//! What a connector lets users do: who may connect, which tools they may see and call.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::client::model::Tool;
use crate::credential::UserId;

type UserPredicate = Arc<dyn Fn(&UserId) -> bool + Send + Sync>;

/// The rules a [`Connector`](super::Connector) applies before anything reaches the server.
///
/// By default everyone may connect and every tool is allowed. A denied user or tool gets
/// [`Error::PolicyDenied`](crate::Error::PolicyDenied) and no request is sent.
///
/// ```
/// use pagerduty_mcp_connect::Policy;
///
/// let policy = Policy::new()
///     .allow_users(["alice@example.com", "bob@example.com"])
///     .read_only(true)
///     .deny_tools(["create_incident"]);
/// # let _ = policy;
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct Policy {
    allowed_users: Option<HashSet<UserId>>,
    user_predicate: Option<UserPredicate>,
    read_only: bool,
    read_only_users: HashSet<UserId>,
    allowed_tools: Option<HashSet<String>>,
    denied_tools: HashSet<String>,
}

impl Policy {
    /// Everyone, every tool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only these users may connect (adds to any earlier list).
    pub fn allow_users<I, U>(mut self, users: I) -> Self
    where
        I: IntoIterator<Item = U>,
        U: Into<UserId>,
    {
        self.allowed_users
            .get_or_insert_with(HashSet::new)
            .extend(users.into_iter().map(Into::into));
        self
    }

    /// Only users for whom `predicate` answers `true` may connect (checked with the list, if
    /// any: both must allow).
    pub fn allow_user_if(
        mut self,
        predicate: impl Fn(&UserId) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.user_predicate = Some(Arc::new(predicate));
        self
    }

    /// Read-only mode: only tools whose annotations say `readOnlyHint: true` are offered and
    /// allowed. A tool without annotations counts as one that writes.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Read-only mode for these users only (adds to any earlier list); others keep the
    /// connector-wide setting.
    pub fn read_only_users<I, U>(mut self, users: I) -> Self
    where
        I: IntoIterator<Item = U>,
        U: Into<UserId>,
    {
        self.read_only_users
            .extend(users.into_iter().map(Into::into));
        self
    }

    /// Only these tools are offered and allowed (adds to any earlier list).
    pub fn allow_tools<I, S>(mut self, tools: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_tools
            .get_or_insert_with(HashSet::new)
            .extend(tools.into_iter().map(Into::into));
        self
    }

    /// These tools are never offered nor allowed, whatever else says.
    pub fn deny_tools<I, S>(mut self, tools: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.denied_tools.extend(tools.into_iter().map(Into::into));
        self
    }

    /// Whether read-only mode is on for `user`.
    pub fn is_read_only_for(&self, user: &UserId) -> bool {
        self.read_only || self.read_only_users.contains(user)
    }

    /// Whether `user` may connect: `Ok(())`, or the [`PolicyDenial`] saying why not.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{Policy, PolicyRule};
    ///
    /// let policy = Policy::new().allow_users(["alice"]);
    /// assert!(policy.check_user(&"alice".into()).is_ok());
    /// let denial = policy.check_user(&"mallory".into()).unwrap_err();
    /// assert_eq!(denial.rule(), PolicyRule::UserNotAllowed);
    /// assert!(denial.reason().contains("mallory"));
    /// ```
    pub fn check_user(&self, user: &UserId) -> Result<(), PolicyDenial> {
        if let Some(allowed) = &self.allowed_users
            && !allowed.contains(user)
        {
            return Err(PolicyDenial::new(
                PolicyRule::UserNotAllowed,
                format!("user {user} is not on the list of users allowed to connect"),
            ));
        }
        if let Some(predicate) = &self.user_predicate
            && !predicate(user)
        {
            return Err(PolicyDenial::new(
                PolicyRule::UserNotAllowed,
                format!("user {user} is not allowed to connect"),
            ));
        }
        Ok(())
    }

    /// Whether `user` may call the tool `name` (described by `tool` when the server listed it):
    /// `Ok(())`, or the [`PolicyDenial`] saying why not.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{Policy, PolicyRule};
    ///
    /// let policy = Policy::new().deny_tools(["create_incident"]);
    /// let alice = "alice".into();
    /// assert!(policy.check_tool(&alice, "list_incidents", None).is_ok());
    /// let denial = policy.check_tool(&alice, "create_incident", None).unwrap_err();
    /// assert_eq!(denial.rule(), PolicyRule::ToolDenied);
    /// ```
    pub fn check_tool(
        &self,
        user: &UserId,
        name: &str,
        tool: Option<&Tool>,
    ) -> Result<(), PolicyDenial> {
        if self.denied_tools.contains(name) {
            return Err(PolicyDenial::new(
                PolicyRule::ToolDenied,
                format!("tool {name} is on the deny list"),
            ));
        }
        if let Some(allowed) = &self.allowed_tools
            && !allowed.contains(name)
        {
            return Err(PolicyDenial::new(
                PolicyRule::ToolNotAllowed,
                format!("tool {name} is not on the allow list"),
            ));
        }
        if self.is_read_only_for(user) {
            match tool {
                None => {
                    return Err(PolicyDenial::new(
                        PolicyRule::ReadOnly,
                        format!(
                            "read-only mode: the server does not list tool {name}, so it cannot be shown to be read-only"
                        ),
                    ));
                }
                Some(tool) if !tool.is_read_only() => {
                    return Err(PolicyDenial::new(
                        PolicyRule::ReadOnly,
                        format!("read-only mode: tool {name} is not annotated readOnlyHint: true"),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Whether the policy needs the tool's annotations to decide for `user` (read-only mode).
    pub(crate) fn needs_annotations(&self, user: &UserId) -> bool {
        self.is_read_only_for(user)
    }
}

/// The rule of a [`Policy`] that denied something.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyRule {
    /// The user is not on the allow list, or the predicate refused them.
    UserNotAllowed,
    /// The tool is on the deny list.
    ToolDenied,
    /// An allow list of tools is set and the tool is not on it.
    ToolNotAllowed,
    /// Read-only mode is on for the user and the tool is not shown to be read-only.
    ReadOnly,
}

/// Why a [`Policy`] denied a user or a tool: the rule, and a sentence for the user.
///
/// Becomes [`Error::PolicyDenied`](crate::Error::PolicyDenied) (with the sentence as its reason)
/// through `?` or `Error::from`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDenial {
    rule: PolicyRule,
    reason: String,
}

impl PolicyDenial {
    fn new(rule: PolicyRule, reason: String) -> Self {
        PolicyDenial { rule, reason }
    }

    /// The rule that denied.
    pub fn rule(&self) -> PolicyRule {
        self.rule
    }

    /// Why, in a sentence that names the user or tool (never a credential).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The sentence, owned.
    pub fn into_reason(self) -> String {
        self.reason
    }
}

impl fmt::Display for PolicyDenial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for PolicyDenial {}

impl From<PolicyDenial> for crate::Error {
    fn from(denial: PolicyDenial) -> Self {
        crate::Error::PolicyDenied {
            reason: denial.reason,
        }
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field(
                "allowed_users",
                &self.allowed_users.as_ref().map(HashSet::len),
            )
            .field("user_predicate", &self.user_predicate.is_some())
            .field("read_only", &self.read_only)
            .field("read_only_users", &self.read_only_users.len())
            .field("allowed_tools", &self.allowed_tools)
            .field("denied_tools", &self.denied_tools)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str, annotations: serde_json::Value) -> Tool {
        serde_json::from_value(json!({"name": name, "inputSchema": {}, "annotations": annotations}))
            .unwrap()
    }

    #[test]
    fn user_rules() {
        let policy = Policy::new()
            .allow_users(["a", "b"])
            .allow_user_if(|u| u.as_str() != "b");
        assert!(policy.check_user(&"a".into()).is_ok());
        assert!(policy.check_user(&"b".into()).is_err());
        assert!(policy.check_user(&"c".into()).is_err());
        assert!(Policy::new().check_user(&"anyone".into()).is_ok());
        assert_eq!(
            policy.check_user(&"c".into()).unwrap_err().rule(),
            PolicyRule::UserNotAllowed
        );
    }

    #[test]
    fn tool_rules() {
        let read = tool("list_incidents", json!({"readOnlyHint": true}));
        let write = tool(
            "create_incident",
            json!({"readOnlyHint": false, "destructiveHint": true}),
        );
        let bare: Tool =
            serde_json::from_value(json!({"name": "bare", "inputSchema": {}})).unwrap();
        let u = UserId::from("u");
        let read_only = Policy::new().read_only(true);
        assert!(
            read_only
                .check_tool(&u, "list_incidents", Some(&read))
                .is_ok()
        );
        assert!(
            read_only
                .check_tool(&u, "create_incident", Some(&write))
                .is_err()
        );
        assert!(read_only.check_tool(&u, "bare", Some(&bare)).is_err());
        assert!(read_only.check_tool(&u, "unknown", None).is_err());
        assert_eq!(
            read_only
                .check_tool(&u, "create_incident", Some(&write))
                .unwrap_err()
                .rule(),
            PolicyRule::ReadOnly
        );
        let lists = Policy::new().allow_tools(["a", "b"]).deny_tools(["b"]);
        assert!(lists.check_tool(&u, "a", None).is_ok());
        assert!(lists.check_tool(&u, "b", None).is_err());
        assert!(lists.check_tool(&u, "c", None).is_err());
        let per_user = Policy::new().read_only_users(["bob"]);
        let bob = UserId::from("bob");
        assert!(
            per_user
                .check_tool(&bob, "create_incident", Some(&write))
                .is_err()
        );
        assert!(
            per_user
                .check_tool(&bob, "list_incidents", Some(&read))
                .is_ok()
        );
        assert!(
            per_user
                .check_tool(&u, "create_incident", Some(&write))
                .is_ok()
        );
    }
}
