//! Typed MCP results. Every struct keeps the fields it does not know in `extra`, so a newer
//! server never breaks an older client and nothing the server said is lost.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Fields of a JSON object this version of the crate does not model.
pub type Extra = Map<String, Value>;

/// The name and version of a client or server implementation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Implementation {
    /// The implementation's name.
    #[serde(default)]
    pub name: String,
    /// The implementation's version.
    #[serde(default)]
    pub version: String,
    /// A human title, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// What the server said about itself when the connection was set up (the `initialize` result in
/// the session era, the `server/discover` result in the stateless era).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServerDetails {
    /// The server's name and version.
    #[serde(default)]
    pub server_info: Implementation,
    /// The server's capabilities (`tools`, `resources`, `prompts`, `logging`, `completions` …).
    #[serde(default)]
    pub capabilities: Map<String, Value>,
    /// Instructions for using the server, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Unmodelled fields (`protocolVersion`, `supportedVersions` …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Hints about a tool's behaviour. They come from the server and are not guarantees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ToolAnnotations {
    /// A human title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The tool does not modify its environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    /// The tool may perform destructive updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    /// Calling the tool twice with the same arguments has no further effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    /// The tool interacts with an open world of external entities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A tool the server offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    /// The tool's name, used in `tools/call`.
    pub name: String,
    /// What the tool does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of the tool's arguments.
    #[serde(default)]
    pub input_schema: Value,
    /// The JSON Schema of the tool's structured output, when declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// Behaviour hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<ToolAnnotations>,
    /// Unmodelled fields (`title`, `icons`, `_meta` …).
    #[serde(flatten)]
    pub extra: Extra,
}

impl Tool {
    /// Whether the server marks the tool read-only (`readOnlyHint: true`). A tool without
    /// annotations counts as one that writes.
    pub fn is_read_only(&self) -> bool {
        self.annotations
            .as_ref()
            .and_then(|a| a.read_only_hint)
            .unwrap_or(false)
    }

    /// Whether repeating a call cannot do harm (read-only or `idempotentHint: true`).
    pub fn is_safe_to_repeat(&self) -> bool {
        self.is_read_only()
            || self
                .annotations
                .as_ref()
                .and_then(|a| a.idempotent_hint)
                .unwrap_or(false)
    }
}

/// One piece of content in a tool result or a prompt message. The fields present depend on
/// `type` (`text`, `image`, `audio`, `resource`, `resource_link` …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Content {
    /// The content type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text, for `type: "text"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The other fields (`data`, `mimeType`, `resource`, `uri` …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// The result of `tools/call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CallToolResult {
    /// The unstructured content.
    #[serde(default)]
    pub content: Vec<Content>,
    /// The structured content, when the tool returns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured_content: Option<Value>,
    /// Whether the tool reported an error (the call itself succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl CallToolResult {
    /// Whether the tool reported an error.
    pub fn is_error(&self) -> bool {
        self.is_error.unwrap_or(false)
    }

    /// The text content joined by newlines.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for text in self.content.iter().filter_map(|c| c.text.as_deref()) {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(text);
        }
        out
    }
}

/// A resource the server offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// The resource's URI.
    pub uri: String,
    /// The resource's name.
    #[serde(default)]
    pub name: String,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A parameterised resource (RFC 6570 URI template).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTemplate {
    /// The URI template.
    pub uri_template: String,
    /// The template's name.
    #[serde(default)]
    pub name: String,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The contents of a resource: text or base64 `blob`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceContents {
    /// The URI.
    pub uri: String,
    /// The MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Text contents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Base64 binary contents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The result of `resources/read`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ReadResourceResult {
    /// The contents (a resource may have several parts).
    #[serde(default)]
    pub contents: Vec<ResourceContents>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An argument a prompt takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptArgument {
    /// The argument's name.
    pub name: String,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether it must be given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A prompt the server offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    /// The prompt's name, used in `prompts/get`.
    pub name: String,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its arguments.
    #[serde(default)]
    pub arguments: Vec<PromptArgument>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One message of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptMessage {
    /// `user` or `assistant`.
    pub role: String,
    /// The message content.
    pub content: Content,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The result of `prompts/get`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GetPromptResult {
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The messages.
    #[serde(default)]
    pub messages: Vec<PromptMessage>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// What `completion/complete` completes: an argument of a prompt or of a resource template.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum CompletionTarget {
    /// An argument of the prompt with this name.
    Prompt(String),
    /// An argument of the resource template with this URI template.
    ResourceTemplate(String),
}

impl CompletionTarget {
    pub(crate) fn to_json(&self) -> Value {
        match self {
            CompletionTarget::Prompt(name) => {
                serde_json::json!({"type": "ref/prompt", "name": name})
            }
            CompletionTarget::ResourceTemplate(uri) => {
                serde_json::json!({"type": "ref/resource", "uri": uri})
            }
        }
    }
}

/// Completion values for an argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Completion {
    /// The suggested values.
    #[serde(default)]
    pub values: Vec<String>,
    /// How many values exist in all, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Whether more values exist than were returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_more: Option<bool>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The result of `completion/complete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CompleteResult {
    /// The completion.
    #[serde(default)]
    pub completion: Completion,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The severity of a log message (`logging/setLevel`), RFC 5424 levels.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoggingLevel {
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Notice.
    Notice,
    /// Warning.
    Warning,
    /// Error.
    Error,
    /// Critical.
    Critical,
    /// Alert.
    Alert,
    /// Emergency.
    Emergency,
}

impl LoggingLevel {
    /// The level's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LoggingLevel::Debug => "debug",
            LoggingLevel::Info => "info",
            LoggingLevel::Notice => "notice",
            LoggingLevel::Warning => "warning",
            LoggingLevel::Error => "error",
            LoggingLevel::Critical => "critical",
            LoggingLevel::Alert => "alert",
            LoggingLevel::Emergency => "emergency",
        }
    }
}

/// A notification the server sent (on a response stream or on the session's GET stream).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerNotification {
    /// The method (`notifications/progress`, `notifications/message`,
    /// `notifications/tools/list_changed` …).
    pub method: String,
    /// The parameters.
    pub params: Value,
}

impl ServerNotification {
    /// The progress token, for `notifications/progress`.
    pub fn progress_token(&self) -> Option<&Value> {
        (self.method == "notifications/progress")
            .then(|| self.params.get("progressToken"))
            .flatten()
    }
}
