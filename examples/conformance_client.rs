//! A client for the official MCP conformance suite (`@modelcontextprotocol/conformance`), built
//! on this crate's public API only.
//!
//! The harness starts a test server per scenario and runs `conformance_client <server-url>`
//! with `MCP_CONFORMANCE_SCENARIO` (the scenario), `MCP_CONFORMANCE_PROTOCOL_VERSION` (the spec
//! version the scenario runs at) and, for some scenarios, `MCP_CONFORMANCE_CONTEXT` (JSON, for
//! example the tool calls to make) set. `CONFORMANCE_PREFERENCE=auto` (the default) connects
//! with [`ProtocolPreference::Auto`]; `pinned` uses exactly the harness's protocol version.
//!
//! What it does is what an application would: connect, list the tools, call them (with the
//! arguments the scenario's context names, else with arguments made from each tool's schema),
//! read the resources and prompts the server offers, and answer elicitation, sampling and roots
//! requests through handlers. `scripts/conformance/run.sh` runs every scenario.
//!
//! ```text
//! MCP_CONFORMANCE_SCENARIO=initialize cargo run --example conformance_client -- http://localhost:3000/mcp
//! ```

use std::process::ExitCode;

use pagerduty_mcp_connect::{
    AuthScheme, Credential, GenericServer, HandlerError, McpClient, ProtocolPreference,
    ProtocolVersion, ServerRequest, Session, server_request_fn,
};
use serde_json::{Map, Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: conformance_client <server-url>");
        return ExitCode::from(2);
    };
    match run(&url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("conformance client failed: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let context: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|raw| serde_json::from_str(&raw).ok())
        .unwrap_or(Value::Null);
    let preference = match std::env::var("CONFORMANCE_PREFERENCE").as_deref() {
        Ok("pinned") => {
            let version: ProtocolVersion = std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION")
                .map_err(|_| "pinned mode needs MCP_CONFORMANCE_PROTOCOL_VERSION")?
                .parse()?;
            ProtocolPreference::Exact(version)
        }
        Ok("handshake") => ProtocolPreference::Handshake,
        _ => ProtocolPreference::Auto,
    };
    eprintln!("scenario {scenario:?}, preference {preference:?}");

    let server = GenericServer::new("conformance", url, AuthScheme::bearer())?;
    let client = McpClient::builder(server)
        .protocol(preference)
        .client_info(
            "pagerduty-mcp-connect-conformance",
            env!("CARGO_PKG_VERSION"),
        )
        .elicitation_handler(server_request_fn(|request: ServerRequest| async move {
            Ok::<_, HandlerError>(accept_elicitation(request.params()))
        }))
        .sampling_handler(server_request_fn(|request: ServerRequest| async move {
            Ok::<_, HandlerError>(sample(request.params()))
        }))
        .roots_handler(server_request_fn(|_request: ServerRequest| async move {
            Ok::<_, HandlerError>(
                json!({"roots": [{"uri": "file:///tmp/conformance", "name": "conformance"}]}),
            )
        }))
        .build()?;
    // The harness's servers check no credential; the client still sends one, as always.
    let session = client
        .connect(&Credential::new("conformance-token"))
        .await?;
    eprintln!("connected with protocol version {}", session.version());

    let tools = session.list_tools().await?;
    let calls = planned_calls(&context, &tools);
    for (name, arguments) in calls {
        match session.call_tool(&name, arguments).await {
            Ok(result) => eprintln!("called {name}: isError={:?}", result.is_error),
            // The server refused the call (a JSON-RPC error): report it and go on, as an
            // application would; anything else (transport, timeout, protocol) ends the run.
            Err(err @ pagerduty_mcp_connect::Error::Server { .. }) => {
                eprintln!("the server refused {name}: {err}")
            }
            Err(err) => return Err(err.into()),
        }
    }
    let capabilities = session.server_details().capabilities;
    if capabilities.contains_key("resources") {
        read_resources(&session).await?;
    }
    if capabilities.contains_key("prompts") {
        get_prompts(&session).await?;
    }
    session.close().await?;
    Ok(())
}

/// The tool calls to make: those the scenario's context names, else one per listed tool. The
/// `json_schema_echo` tool gets the schema of the tool beside it, as the scenario asks.
fn planned_calls(context: &Value, tools: &[pagerduty_mcp_connect::Tool]) -> Vec<(String, Value)> {
    if let Some(calls) = context.get("toolCalls").and_then(Value::as_array) {
        return calls
            .iter()
            .filter_map(|call| {
                let name = call.get("name")?.as_str()?.to_owned();
                let arguments = call.get("arguments").cloned().unwrap_or(json!({}));
                Some((name, arguments))
            })
            .collect();
    }
    let echo_source = tools
        .iter()
        .find(|tool| tool.name != "json_schema_echo")
        .map(|tool| tool.input_schema.clone());
    tools
        .iter()
        .map(|tool| {
            let arguments = match (&*tool.name, &echo_source) {
                ("json_schema_echo", Some(schema)) => json!({"schema": schema}),
                _ => arguments_for(&tool.input_schema),
            };
            (tool.name.clone(), arguments)
        })
        .collect()
}

/// Arguments that satisfy a schema's required properties, from their defaults or types.
fn arguments_for(schema: &Value) -> Value {
    let mut arguments = Map::new();
    let properties = schema.get("properties").and_then(Value::as_object);
    let required = schema.get("required").and_then(Value::as_array);
    if let (Some(properties), Some(required)) = (properties, required) {
        for name in required.iter().filter_map(Value::as_str) {
            let property = properties.get(name).unwrap_or(&Value::Null);
            arguments.insert(name.to_owned(), example_value(property));
        }
    }
    Value::Object(arguments)
}

fn example_value(property: &Value) -> Value {
    if let Some(default) = property.get("default") {
        return default.clone();
    }
    if let Some(first) = property
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    match property.get("type").and_then(Value::as_str) {
        Some("number") | Some("integer") => json!(1),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        Some("object") => json!({}),
        _ => json!("example"),
    }
}

/// Accepts an elicitation, filling every requested field with its schema default (SEP-1034),
/// or an example value of its type.
fn accept_elicitation(params: &Value) -> Value {
    let mut content = Map::new();
    if let Some(properties) = params
        .pointer("/requestedSchema/properties")
        .and_then(Value::as_object)
    {
        for (name, property) in properties {
            content.insert(name.clone(), example_value(property));
        }
    }
    json!({"action": "accept", "content": content})
}

/// A sampling answer: a fixed assistant message.
fn sample(_params: &Value) -> Value {
    json!({
        "role": "assistant",
        "content": {"type": "text", "text": "A reply from the conformance client's model."},
        "model": "conformance-model",
        "stopReason": "endTurn"
    })
}

async fn read_resources(session: &Session) -> Result<(), pagerduty_mcp_connect::Error> {
    for resource in session.list_resources().await? {
        session.read_resource(&resource.uri).await?;
    }
    Ok(())
}

async fn get_prompts(session: &Session) -> Result<(), pagerduty_mcp_connect::Error> {
    for prompt in session.list_prompts().await? {
        let arguments: Vec<(String, String)> = prompt
            .arguments
            .iter()
            .map(|argument| (argument.name.clone(), "example".to_owned()))
            .collect();
        session.get_prompt(&prompt.name, arguments).await?;
    }
    Ok(())
}
