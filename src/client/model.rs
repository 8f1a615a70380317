//! Typed MCP results. Every struct keeps the fields it does not know in `extra`, so a newer
//! server never breaks an older client and nothing the server said is lost.
//!
//! The structs are `#[non_exhaustive]`: read their public fields freely, and build them (for a
//! test double, or a gateway answering its own agents) with their constructors and `with_*`
//! methods, so that a field added in a minor release breaks nobody.
//!
//! ```
//! use pagerduty_mcp_connect::{CallToolResult, Content, Tool, ToolAnnotations};
//! use serde_json::json;
//!
//! let tool = Tool::new("list_incidents", json!({"type": "object"}))
//!     .with_description("Lists incidents")
//!     .with_annotations(ToolAnnotations::new().with_read_only_hint(true));
//! assert!(tool.is_read_only());
//!
//! let result = CallToolResult::new(vec![Content::text("3 incidents")])
//!     .with_structured_content(json!({"count": 3}));
//! assert_eq!(result.text(), "3 incidents");
//! assert!(!result.is_error());
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Fields of a JSON object this version of the crate does not model.
pub type Extra = Map<String, Value>;

/// The name and version of a client or server implementation.
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
#[derive(Clone)]
pub struct ServerNotification {
    /// The method (`notifications/progress`, `notifications/message`,
    /// `notifications/tools/list_changed` …).
    pub method: String,
    /// The parameters.
    pub params: Value,
    /// The context of the call whose response stream carried it, if it came on one
    /// ([`ServerNotification::call_context`]).
    pub(crate) call: Option<crate::client::CallContext>,
}

impl fmt::Debug for ServerNotification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerNotification")
            .field("method", &self.method)
            .field("params", &self.params)
            .field("in_a_call", &self.call.is_some())
            .finish()
    }
}

impl PartialEq for ServerNotification {
    /// The method and parameters; the call it came with is not compared.
    fn eq(&self, other: &Self) -> bool {
        self.method == other.method && self.params == other.params
    }
}

impl ServerNotification {
    /// The [context](crate::RequestOptions::context) of the request whose own reply stream
    /// carried this notification (a log message or progress the server sent while it worked on
    /// that call), so that a gateway can pass it to the agent that made the call; `None` for a
    /// notification on the session's standing stream, or of a call sent without a context.
    pub fn call_context(&self) -> Option<&crate::client::CallContext> {
        self.call.as_ref()
    }

    /// The progress token, for `notifications/progress`.
    pub fn progress_token(&self) -> Option<&Value> {
        (self.method == "notifications/progress")
            .then(|| self.params.get("progressToken"))
            .flatten()
    }
}

// Constructors: the structs are `#[non_exhaustive]`, so these (and `Default`, where derived) are
// how code outside the crate builds them.

impl Implementation {
    /// An implementation called `name` at `version`.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Implementation {
            name: name.into(),
            version: version.into(),
            ..Self::default()
        }
    }

    /// Sets the human title.
    #[must_use]
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }
}

impl ServerDetails {
    /// Details of the server `server_info`, with no capabilities nor instructions.
    pub fn new(server_info: Implementation) -> Self {
        ServerDetails {
            server_info,
            ..Self::default()
        }
    }

    /// Sets the capabilities object (`{"tools": {}, "resources": {…}}` …).
    #[must_use]
    pub fn with_capabilities(mut self, capabilities: Map<String, Value>) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Sets the instructions.
    #[must_use]
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }
}

impl ToolAnnotations {
    /// No hints.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the human title.
    #[must_use]
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets `readOnlyHint`.
    #[must_use]
    pub fn with_read_only_hint(mut self, hint: bool) -> Self {
        self.read_only_hint = Some(hint);
        self
    }

    /// Sets `destructiveHint`.
    #[must_use]
    pub fn with_destructive_hint(mut self, hint: bool) -> Self {
        self.destructive_hint = Some(hint);
        self
    }

    /// Sets `idempotentHint`.
    #[must_use]
    pub fn with_idempotent_hint(mut self, hint: bool) -> Self {
        self.idempotent_hint = Some(hint);
        self
    }

    /// Sets `openWorldHint`.
    #[must_use]
    pub fn with_open_world_hint(mut self, hint: bool) -> Self {
        self.open_world_hint = Some(hint);
        self
    }
}

impl Tool {
    /// A tool called `name` whose arguments follow the JSON Schema `input_schema`.
    pub fn new(name: impl Into<String>, input_schema: Value) -> Self {
        Tool {
            name: name.into(),
            description: None,
            input_schema,
            output_schema: None,
            annotations: None,
            extra: Extra::new(),
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the JSON Schema of the structured output.
    #[must_use]
    pub fn with_output_schema(mut self, output_schema: Value) -> Self {
        self.output_schema = Some(output_schema);
        self
    }

    /// Sets the behaviour hints.
    #[must_use]
    pub fn with_annotations(mut self, annotations: ToolAnnotations) -> Self {
        self.annotations = Some(annotations);
        self
    }
}

impl Content {
    /// Content of type `kind` with no fields yet (fill `extra` for `image`, `resource` …).
    pub fn new(kind: impl Into<String>) -> Self {
        Content {
            kind: kind.into(),
            text: None,
            extra: Extra::new(),
        }
    }

    /// Text content (`{"type": "text", "text": …}`).
    pub fn text(text: impl Into<String>) -> Self {
        Content {
            text: Some(text.into()),
            ..Content::new("text")
        }
    }
}

impl CallToolResult {
    /// A successful result with this content.
    pub fn new(content: Vec<Content>) -> Self {
        CallToolResult {
            content,
            ..Self::default()
        }
    }

    /// A result in which the tool reports an error (`isError: true`) described by `message`.
    pub fn error(message: impl Into<String>) -> Self {
        CallToolResult {
            is_error: Some(true),
            ..CallToolResult::new(vec![Content::text(message)])
        }
    }

    /// Sets the structured content.
    #[must_use]
    pub fn with_structured_content(mut self, structured_content: Value) -> Self {
        self.structured_content = Some(structured_content);
        self
    }
}

impl Resource {
    /// The resource `name` at `uri`.
    pub fn new(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Resource {
            uri: uri.into(),
            name: name.into(),
            description: None,
            mime_type: None,
            extra: Extra::new(),
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the MIME type.
    #[must_use]
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }
}

impl ResourceTemplate {
    /// The template `name` for URIs matching `uri_template`.
    pub fn new(uri_template: impl Into<String>, name: impl Into<String>) -> Self {
        ResourceTemplate {
            uri_template: uri_template.into(),
            name: name.into(),
            description: None,
            mime_type: None,
            extra: Extra::new(),
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the MIME type.
    #[must_use]
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }
}

impl ResourceContents {
    /// Text contents of the resource at `uri`.
    pub fn text(uri: impl Into<String>, text: impl Into<String>) -> Self {
        ResourceContents {
            uri: uri.into(),
            mime_type: None,
            text: Some(text.into()),
            blob: None,
            extra: Extra::new(),
        }
    }

    /// Binary contents of the resource at `uri`, already base64-encoded.
    pub fn blob(uri: impl Into<String>, base64: impl Into<String>) -> Self {
        ResourceContents {
            uri: uri.into(),
            mime_type: None,
            text: None,
            blob: Some(base64.into()),
            extra: Extra::new(),
        }
    }

    /// Sets the MIME type.
    #[must_use]
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }
}

impl ReadResourceResult {
    /// A result with these contents.
    pub fn new(contents: Vec<ResourceContents>) -> Self {
        ReadResourceResult {
            contents,
            extra: Extra::new(),
        }
    }
}

impl PromptArgument {
    /// An optional argument called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        PromptArgument {
            name: name.into(),
            description: None,
            required: None,
            extra: Extra::new(),
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets whether the argument must be given.
    #[must_use]
    pub fn with_required(mut self, required: bool) -> Self {
        self.required = Some(required);
        self
    }
}

impl Prompt {
    /// A prompt called `name`, without arguments.
    pub fn new(name: impl Into<String>) -> Self {
        Prompt {
            name: name.into(),
            description: None,
            arguments: Vec::new(),
            extra: Extra::new(),
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the arguments.
    #[must_use]
    pub fn with_arguments(mut self, arguments: Vec<PromptArgument>) -> Self {
        self.arguments = arguments;
        self
    }
}

impl PromptMessage {
    /// A message of `role` (`user` or `assistant`).
    pub fn new(role: impl Into<String>, content: Content) -> Self {
        PromptMessage {
            role: role.into(),
            content,
            extra: Extra::new(),
        }
    }
}

impl GetPromptResult {
    /// A result with these messages.
    pub fn new(messages: Vec<PromptMessage>) -> Self {
        GetPromptResult {
            messages,
            ..Self::default()
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

impl Completion {
    /// These suggested values.
    pub fn new(values: Vec<String>) -> Self {
        Completion {
            values,
            ..Self::default()
        }
    }

    /// Sets how many values exist in all.
    #[must_use]
    pub fn with_total(mut self, total: u64) -> Self {
        self.total = Some(total);
        self
    }

    /// Sets whether more values exist than were returned.
    #[must_use]
    pub fn with_has_more(mut self, has_more: bool) -> Self {
        self.has_more = Some(has_more);
        self
    }
}

impl CompleteResult {
    /// A result holding `completion`.
    pub fn new(completion: Completion) -> Self {
        CompleteResult {
            completion,
            extra: Extra::new(),
        }
    }
}

impl ServerNotification {
    /// A notification of `method` with `params`.
    pub fn new(method: impl Into<String>, params: Value) -> Self {
        ServerNotification {
            method: method.into(),
            params,
            call: None,
        }
    }
}
