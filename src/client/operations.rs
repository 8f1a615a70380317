//! The MCP operations of a [`Session`], typed.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::model::{
    CallToolResult, CompleteResult, CompletionTarget, Content, GetPromptResult, LoggingLevel,
    Prompt, ReadResourceResult, Resource, ResourceTemplate, Tool,
};
use super::session::{RequestOptions, Session};
use super::tool_routing::routing_table;
use crate::error::{Error, Result};

/// Most pages a list operation follows before it gives up on a server that never stops.
const MAX_PAGES: usize = 500;

impl Session {
    /// Every tool the server offers (following `nextCursor` to the last page).
    ///
    /// Tools the server marks read-only or idempotent become safe to retry after a 5xx, and in
    /// the 2026-07-28 protocol the arguments their schemas mark with `x-mcp-header` are mirrored
    /// into `Mcp-Param-*` headers on later calls.
    pub async fn list_tools(&self) -> Result<Vec<Tool>> {
        let mut tools: Vec<Tool> = self.list_all("tools/list", "tools").await?;
        let (table, invalid) = routing_table(&tools);
        if self.version().is_stateless() && !invalid.is_empty() {
            // 2026-07-28: a tool with invalid `x-mcp-header` declarations must not be offered.
            let names: Vec<String> = invalid
                .iter()
                .map(|name| self.inner.redact_text(name))
                .collect();
            tracing::warn!(tools = ?names, "leaving out tools with invalid x-mcp-header declarations");
            tools.retain(|tool| !invalid.contains(&tool.name));
        }
        *self.inner.tools.write().unwrap_or_else(|p| p.into_inner()) =
            Some(std::sync::Arc::new(table));
        Ok(tools)
    }

    /// Every resource the server offers (all pages).
    pub async fn list_resources(&self) -> Result<Vec<Resource>> {
        self.list_all("resources/list", "resources").await
    }

    /// Every resource template the server offers (all pages).
    pub async fn list_resource_templates(&self) -> Result<Vec<ResourceTemplate>> {
        self.list_all("resources/templates/list", "resourceTemplates")
            .await
    }

    /// Every prompt the server offers (all pages).
    pub async fn list_prompts(&self) -> Result<Vec<Prompt>> {
        self.list_all("prompts/list", "prompts").await
    }

    /// Calls tool `name` with `arguments` (a JSON object, or `null` for none).
    ///
    /// A tool that fails reports it in the result ([`CallToolResult::is_error`]); an `Err` means
    /// the call itself failed.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Result<CallToolResult> {
        self.call_tool_with(name, arguments, RequestOptions::default())
            .await
    }

    /// [`Session::call_tool`] with options, for example a progress token.
    pub async fn call_tool_with(
        &self,
        name: &str,
        arguments: Value,
        options: RequestOptions,
    ) -> Result<CallToolResult> {
        let result = self.call_tool_raw(name, arguments, options).await?;
        call_tool_result(result).map_err(|err| self.inner.scrub(err))
    }

    /// [`Session::call_tool_with`] without the typed result: the `result` as the server sent
    /// it, for a caller that passes it on (a gateway converting it into its own server's
    /// model) and would otherwise convert it twice.
    ///
    /// The call is the same: the arguments must be a JSON object (or `null`), and a
    /// 2026-07-28 server asking for `Mcp-Param-*` headers of a tool this session has not
    /// listed yet gets the tools listed and the call sent once more.
    pub async fn call_tool_raw(
        &self,
        name: &str,
        arguments: Value,
        options: RequestOptions,
    ) -> Result<Value> {
        let arguments = match arguments {
            Value::Null => Value::Object(Map::new()),
            Value::Object(map) => Value::Object(map),
            _ => return Err(Error::config("tool arguments must be a JSON object")),
        };
        let params = json!({"name": name, "arguments": arguments});
        // 2026-07-28: a tool may declare `Mcp-Param-*` headers, known only from `tools/list`.
        // Keep a copy of the request for one more try if the server asks for them before this
        // session has listed the tools.
        let retry = (self.version().is_stateless() && !self.knows_tool(name))
            .then(|| (params.clone(), options.clone()));
        match (
            self.request_with("tools/call", params, options).await,
            retry,
        ) {
            (Err(Error::Server { code: -32020, .. }), Some((params, options))) => {
                self.list_tools().await?;
                self.request_with("tools/call", params, options).await
            }
            (other, _) => other,
        }
    }

    /// Reads the resource at `uri`.
    pub async fn read_resource(&self, uri: &str) -> Result<ReadResourceResult> {
        let result = self.request("resources/read", json!({"uri": uri})).await?;
        parse(result, "resources/read").map_err(|err| self.inner.scrub(err))
    }

    /// Gets prompt `name` filled with `arguments` (string values).
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: impl IntoIterator<Item = (String, String)>,
    ) -> Result<GetPromptResult> {
        let arguments: Map<String, Value> = arguments
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let result = self
            .request("prompts/get", json!({"name": name, "arguments": arguments}))
            .await?;
        parse(result, "prompts/get").map_err(|err| self.inner.scrub(err))
    }

    /// Asks the server to complete the value of `argument` (currently `value`) of a prompt or
    /// resource template.
    pub async fn complete(
        &self,
        target: &CompletionTarget,
        argument: &str,
        value: &str,
    ) -> Result<CompleteResult> {
        let result = self
            .request(
                "completion/complete",
                json!({"ref": target.to_json(), "argument": {"name": argument, "value": value}}),
            )
            .await?;
        parse(result, "completion/complete").map_err(|err| self.inner.scrub(err))
    }

    /// Checks the server is alive. The 2026-07-28 protocol has no `ping`; there this sends
    /// `server/discover` instead.
    pub async fn ping(&self) -> Result<()> {
        let method = if self.version().is_stateless() {
            "server/discover"
        } else {
            "ping"
        };
        self.request(method, Value::Null).await.map(drop)
    }

    /// Sets the level of log messages the server sends (`notifications/message` on
    /// [`Session::notifications`]). In the 2026-07-28 protocol the level travels in each later
    /// request's `_meta` instead.
    pub async fn set_logging_level(&self, level: LoggingLevel) -> Result<()> {
        if self.version().is_stateless() {
            self.set_log_level_for_stateless(level);
            return Ok(());
        }
        self.request("logging/setLevel", json!({"level": level.as_str()}))
            .await
            .map(drop)
    }

    fn knows_tool(&self, name: &str) -> bool {
        self.inner
            .tools
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|tools| tools.contains_key(name))
    }

    async fn list_all<T: DeserializeOwned>(&self, method: &str, field: &str) -> Result<Vec<T>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            let params = match &cursor {
                Some(cursor) => json!({"cursor": cursor}),
                None => Value::Null,
            };
            let mut page = self.request(method, params).await?;
            let list = page
                .get_mut(field)
                .map(Value::take)
                .unwrap_or(Value::Array(Vec::new()));
            let list: Vec<T> = crate::error::decode(list, &format!("{method} result `{field}`"))
                .map_err(|err| self.inner.scrub(err))?;
            items.extend(list);
            match page.get("nextCursor") {
                Some(Value::String(next)) if !next.is_empty() => {
                    if !seen.insert(next.clone()) {
                        return Err(Error::protocol(format!(
                            "{method}: the server returned a cursor it had returned before (a pagination loop)"
                        )));
                    }
                    cursor = Some(next.clone());
                }
                _ => return Ok(items),
            }
        }
        Err(Error::protocol(format!(
            "{method}: more than {MAX_PAGES} pages; giving up"
        )))
    }
}

fn parse<T: DeserializeOwned>(result: Value, method: &str) -> Result<T> {
    crate::error::decode(result, &format!("{method} result"))
}

/// One content block of a `tools/call` result, its fields moved out of the reply as they are
/// (serde's `flatten` would buffer and copy every field first).
fn content_block(item: Value, index: usize) -> Result<Content> {
    let malformed = |what: &str| {
        Error::protocol(format!(
            "malformed tools/call result: {what} at `content[{index}]`"
        ))
    };
    let Value::Object(mut fields) = item else {
        return Err(malformed("a content block is not an object"));
    };
    let kind = match fields.remove("type") {
        Some(Value::String(kind)) => kind,
        Some(_) => return Err(malformed("wrong type (not a string) for `type`")),
        None => return Err(malformed("missing field `type`")),
    };
    let text = match fields.remove("text") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text),
        Some(_) => return Err(malformed("wrong type (not a string) for `text`")),
    };
    let mut block = Content::new(kind);
    block.text = text;
    block.extra = fields;
    Ok(block)
}

/// A `tools/call` result, moving `structuredContent` as it is instead of rebuilding it.
pub(crate) fn call_tool_result(result: Value) -> Result<CallToolResult> {
    let Value::Object(mut map) = result else {
        return Err(Error::protocol(
            "malformed tools/call result: not an object",
        ));
    };
    let content = match map.remove("content") {
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| content_block(item, i))
            .collect::<Result<Vec<_>>>()?,
        Some(Value::Null) | None => Vec::new(),
        Some(_) => {
            return Err(Error::protocol(
                "malformed tools/call result: content is not an array",
            ));
        }
    };
    let is_error = match map.remove("isError") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(flag)) => Some(flag),
        Some(_) => {
            return Err(Error::protocol(
                "malformed tools/call result: isError is not a boolean",
            ));
        }
    };
    Ok(CallToolResult {
        content,
        structured_content: map.remove("structuredContent").filter(|v| !v.is_null()),
        is_error,
        extra: map,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_blocks_are_moved_out_as_they_are() {
        let result = call_tool_result(json!({
            "content": [
                {"type": "text", "text": "3 incidents"},
                {"type": "image", "data": "aGk=", "mimeType": "image/png"},
            ],
            "structuredContent": {"count": 3},
        }))
        .unwrap();
        assert_eq!(result.content[0], Content::text("3 incidents"));
        assert_eq!(result.content[1].kind, "image");
        assert_eq!(result.content[1].text, None);
        assert_eq!(result.content[1].extra["mimeType"], "image/png");
        assert_eq!(result.structured_content, Some(json!({"count": 3})));
    }

    #[test]
    fn malformed_content_blocks_are_protocol_errors_that_name_the_block() {
        for (content, expected) in [
            (json!("text"), "content is not an array"),
            (
                json!([{"type": "text", "text": "ok"}, 7]),
                "not an object at `content[1]`",
            ),
            (
                json!([{"text": "no type"}]),
                "missing field `type` at `content[0]`",
            ),
            (json!([{"type": 1}]), "for `type` at `content[0]`"),
            (
                json!([{"type": "text", "text": ["secret"]}]),
                "for `text` at `content[0]`",
            ),
        ] {
            let err = call_tool_result(json!({ "content": content })).unwrap_err();
            assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
            let message = err.to_string();
            assert!(message.contains(expected), "{message}");
            assert!(
                !message.contains("secret"),
                "the server's value is not quoted"
            );
        }
        assert!(call_tool_result(json!({})).unwrap().content.is_empty());
    }
}
