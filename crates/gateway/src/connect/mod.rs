//! "Connect your PagerDuty account": everything the gateway needs when an agent's user has no
//! usable PagerDuty token, as a library part another gateway can embed.
//!
//! The flow (MCP's URL-mode elicitation: the token never passes through the agent):
//!
//! 1. The MCP handler finds no usable token for the user (none stored, revoked after a 401,
//!    rejected when checked) and [starts](ConnectRegistry::start) a [`PendingConnection`]: a
//!    single-use link `<public base>/connect/<elicitation id>` that expires (15 minutes) and
//!    holds no credential.
//! 2. It answers the agent in the agent's protocol era: a 2025-11-25
//!    `URLElicitationRequiredError` ([`PendingConnection::elicitation_required_error`], -32042);
//!    a 2026-07-28 `input_required` result
//!    ([`PendingConnection::input_required`], its `requestState` sealed with a
//!    [`RequestStateKey`]); or, for agents without URL elicitation, a tool result with
//!    `isError: true` ([`PendingConnection::tool_error_result`]) whose text gives the link.
//! 3. The person opens the link: the [`ConnectPage`] (an axum router) has them prove who they
//!    are, with the gateway's authorization server ([`OidcSignIn`], the gateway as an OAuth
//!    client with PKCE) or with their gateway key; anyone but the user the link was made for
//!    is refused and nothing is stored.
//! 4. They paste their User API Token: [`Onboarding`] checks its form
//!    ([`check_pasted_token`]), checks it with PagerDuty (`GET /users/me`, the region found),
//!    optionally requires the PagerDuty user's email to be theirs, and stores it sealed in a
//!    [`ConnectStore`] (the gateway's `SqlCredentialStore`, feature `store`). The page says
//!    "Connected as \<name\> (\<email\>), \<region\>" and lets them replace or disconnect the token
//!    later.
//! 5. The link's [`ConnectionWatch`] wakes: the handler sends a 2025-11-25 agent
//!    [`elicitation_complete_notification`], and the agent's retried call finds the token.
//!
//! One concept per file: `registry` (links), `elicitation` (the payloads of each era),
//! `request_state` (the sealed 2026-07-28 state), `token_input` (the pasted text),
//! `onboarding` (check + store), `store` and `sql_store` (where tokens go), `oidc` (the sign-in
//! at the authorization server), `sessions` (the page's cookies and CSRF tokens), `html`,
//! `headers` and `page` (the router), `ids` (random identifiers), `error`.

mod elicitation;
mod error;
mod headers;
mod html;
mod ids;
mod oidc;
mod onboarding;
mod page;
mod registry;
mod request_state;
mod sessions;
#[cfg(feature = "store")]
mod sql_store;
mod store;
mod token_input;

pub use elicitation::{
    CONNECT_INPUT_KEY, ELICITATION_COMPLETE, URL_ELICITATION_REQUIRED,
    elicitation_complete_notification,
};
pub use error::{ConnectConfigError, StartError};
pub use headers::CONNECT_CSP;
pub use oidc::{OidcSignIn, OidcSignInBuilder, SignInError};
pub use onboarding::{Onboarding, SignedInUser, SubmitError};
pub use page::{ConnectPage, ConnectPageBuilder};
pub use registry::{
    ConnectRegistry, ConnectionStatus, ConnectionWatch, DEFAULT_LINK_TTL, DEFAULT_MESSAGE,
    PendingConnection, RegistryLimits,
};
pub use request_state::{
    ConnectRequestState, REQUEST_STATE_PREFIX, RequestStateError, RequestStateKey,
};
pub use store::{ConnectStore, ConnectStoreError, StoredAccount};
pub use token_input::{MAX_TOKEN_LENGTH, PastedTokenError, check_pasted_token};
