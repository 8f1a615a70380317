//! The ready-made credential providers, each as a gateway would use it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use pagerduty_mcp_connect::{
    CachedCredentials, Clock, Credential, CredentialChain, CredentialError, CredentialProvider,
    EnvCredential, InMemoryCredentialStore, ManualClock, SharedCredentialProvider,
    StaticCredential, UserId, credential_fn,
};
use secrecy::ExposeSecret;

fn secret(credential: &Credential) -> String {
    credential.secret().expose_secret().to_owned()
}

/// The secret `provider` hands out for `user`; panics if it has none.
async fn secret_of(provider: &impl CredentialProvider, user: &str) -> String {
    secret(&provider.credential(&UserId::from(user)).await.unwrap())
}

/// Whether `provider` fails for `user` with "not found" (panics if it has a credential).
async fn has_none_for(provider: &impl CredentialProvider, user: &str) -> bool {
    let err = provider.credential(&UserId::from(user)).await.unwrap_err();
    err.is_not_found()
}

#[tokio::test]
async fn static_credential_serves_everyone_until_the_server_rejects_it() {
    let provider = StaticCredential::new("u+service");
    let alice = UserId::from("alice");
    let credential = provider.credential(&alice).await.unwrap();
    assert_eq!(secret(&credential), "u+service");
    assert_eq!(secret_of(&provider, "bob").await, "u+service");
    // A different credential being invalidated changes nothing.
    provider
        .invalidate(&alice, &Credential::new("u+other"))
        .await;
    assert!(provider.credential(&alice).await.is_ok());
    provider.invalidate(&alice, &credential).await;
    assert!(matches!(
        provider.credential(&alice).await,
        Err(CredentialError::Revoked { .. })
    ));
    // Clones share the revocation.
    let expired = StaticCredential::from_credential(
        Credential::new("u+old").with_expires_at(SystemTime::now() - Duration::from_secs(1)),
    );
    assert!(matches!(
        expired.credential(&alice).await,
        Err(CredentialError::Expired { .. })
    ));
}

#[tokio::test]
async fn env_credential_reads_the_variable_at_each_call() {
    let variable = "PDMC_TEST_TOKEN_VARIABLE";
    let provider = EnvCredential::from_variable(variable);
    assert_eq!(provider.variable(), variable);
    assert_eq!(EnvCredential::new().variable(), "PAGERDUTY_USER_API_TOKEN");
    let user = UserId::from("alice");
    set_env(variable, None);
    assert!(matches!(
        provider.credential(&user).await,
        Err(CredentialError::NotFound { .. })
    ));
    set_env(variable, Some("   "));
    assert!(provider.credential(&user).await.unwrap_err().is_not_found());
    set_env(variable, Some("u+from-env"));
    assert_eq!(secret_of(&provider, "alice").await, "u+from-env");
    set_env(variable, Some("u+changed"));
    assert_eq!(secret_of(&provider, "alice").await, "u+changed");
    set_env(variable, None);
}

#[tokio::test]
async fn in_memory_store_insert_rotate_revoke_remove_across_tasks() {
    let store = InMemoryCredentialStore::new();
    let alice = UserId::from("alice");
    assert!(store.is_empty());
    assert!(matches!(
        store.credential(&alice).await,
        Err(CredentialError::NotFound { .. })
    ));
    store.insert("alice", "u+one");
    assert_eq!(store.len(), 1);
    let first = store.credential(&alice).await.unwrap();
    assert!(store.rotate("alice", "u+two"));
    assert!(!store.rotate("carol", "u+carol"));
    // Invalidating the old token does not revoke the rotated one.
    store.invalidate(&alice, &first).await;
    assert_eq!(secret(&store.credential(&alice).await.unwrap()), "u+two");
    let second = store.credential(&alice).await.unwrap();
    store.invalidate(&alice, &second).await;
    assert!(store.is_revoked(&alice));
    assert!(matches!(
        store.credential(&alice).await,
        Err(CredentialError::Revoked { .. })
    ));
    store.insert("alice", "u+three");
    assert!(!store.is_revoked(&alice));
    assert!(store.revoke(&alice));
    assert!(!store.revoke(&UserId::from("nobody")));
    assert!(store.remove(&alice));
    assert!(!store.contains(&alice));

    // Many tasks writing and reading at once, through clones.
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let user = UserId::from(format!("user{i}"));
                store.insert(user.clone(), format!("u+token-{i}"));
                for round in 0..20 {
                    store.rotate(user.clone(), format!("u+token-{i}-{round}"));
                    let got = store.credential(&user).await.unwrap();
                    assert!(secret(&got).starts_with(&format!("u+token-{i}-")));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        store.len(),
        64 + 1,
        "64 task users and carol (rotate inserts a new user)"
    );
}

#[tokio::test]
async fn credential_fn_turns_a_closure_into_a_provider() {
    let provider = credential_fn(|user: UserId| async move {
        match user.as_str() {
            "alice" => Ok(Credential::new("u+alice")),
            _ => Err(CredentialError::NotFound { user }),
        }
    });
    assert_eq!(secret_of(&provider, "alice").await, "u+alice");
    assert!(has_none_for(&provider, "bob").await);
}

#[tokio::test]
async fn a_chain_moves_on_only_when_a_provider_has_nothing() {
    let store = InMemoryCredentialStore::new();
    store.insert("alice", "u+alice-personal");
    let chain = CredentialChain::first(store.clone()).or_else(StaticCredential::new("u+fallback"));
    assert_eq!(secret_of(&chain, "alice").await, "u+alice-personal");
    assert_eq!(secret_of(&chain, "bob").await, "u+fallback");
    // A revoked personal token must NOT fall through to the shared one.
    store.revoke(&UserId::from("alice"));
    assert!(matches!(
        chain.credential(&UserId::from("alice")).await,
        Err(CredentialError::Revoked { .. })
    ));
    // Nor may a broken store.
    let broken = credential_fn(|_user: UserId| async {
        Err(CredentialError::unavailable("the vault is down"))
    });
    let chain = CredentialChain::first(broken).or_else(StaticCredential::new("u+fallback"));
    let err = chain.credential(&UserId::from("bob")).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("vault is down"));
    // Nothing anywhere: not found.
    let empty = CredentialChain::first(InMemoryCredentialStore::new())
        .or_else(InMemoryCredentialStore::new());
    assert!(has_none_for(&empty, "x").await);
}

#[tokio::test]
async fn the_cache_serves_repeats_expires_and_forgets_invalidated_credentials() {
    // Hands out a new token at each load: `u+<user>-<number of loads before>`.
    let calls = Arc::new(AtomicUsize::new(0));
    let inner = credential_fn({
        let calls = calls.clone();
        move |user: UserId| {
            let calls = calls.clone();
            async move {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                Ok(Credential::new(format!("u+{user}-{n}")))
            }
        }
    });
    let clock = ManualClock::new();
    let cached = CachedCredentials::new(inner)
        .with_time_to_live(Duration::from_millis(200))
        .with_clock(clock.clone());
    let alice = UserId::from("alice");
    let first = cached.credential(&alice).await.unwrap();
    let again = cached.credential(&alice).await.unwrap();
    assert!(first.same_secret(&again));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Invalidation drops the entry at once.
    cached.invalidate(&alice, &first).await;
    let fresh = cached.credential(&alice).await.unwrap();
    assert!(!fresh.same_secret(&first));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Expiry by time to live: not before it, at once after it.
    clock.advance(Duration::from_millis(150));
    cached.credential(&alice).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    clock.advance(Duration::from_millis(100));
    cached.credential(&alice).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    cached.clear();
    cached.credential(&alice).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn the_cache_never_outlives_the_credential_itself() {
    let clock = ManualClock::new();
    let issued = clock.clone();
    let inner = credential_fn(move |_user: UserId| {
        let expires_at = issued.system_now() + Duration::from_millis(100);
        async move { Ok(Credential::new("u+short").with_expires_at(expires_at)) }
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let counting = credential_fn(move |user: UserId| {
        counter.fetch_add(1, Ordering::SeqCst);
        let inner = &inner;
        let result = futures_util::FutureExt::now_or_never(inner.credential(&user));
        async move { result.expect("ready") }
    });
    let cached = CachedCredentials::new(counting).with_clock(clock.clone());
    let alice = UserId::from("alice");
    cached.credential(&alice).await.unwrap();
    cached.credential(&alice).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_millis(150));
    cached.credential(&alice).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn shared_providers_are_cheap_clones_of_one_provider() {
    let store = InMemoryCredentialStore::new();
    let shared = SharedCredentialProvider::new(store.clone());
    let copy = shared.clone();
    store.insert("alice", "u+alice");
    assert!(copy.credential(&UserId::from("alice")).await.is_ok());
    let credential = shared.credential(&UserId::from("alice")).await.unwrap();
    copy.invalidate(&UserId::from("alice"), &credential).await;
    assert!(store.is_revoked(&UserId::from("alice")));
}

/// Sets (`Some`) or removes (`None`) an environment variable of this test process.
///
/// `std::env::set_var` is `unsafe` since edition 2024: another thread reading the environment
/// through C while it changes is undefined behaviour. Here the variable's name is this test's own,
/// std's readers take the same lock as its writers, and nothing in the test binary reads the
/// environment through C (glibc never frees an environment array it replaced, either).
#[allow(unsafe_code)]
fn set_env(variable: &str, value: Option<&str>) {
    // SAFETY: see above; no other thread of this process reads the environment through C.
    unsafe {
        match value {
            Some(value) => std::env::set_var(variable, value),
            None => std::env::remove_var(variable),
        }
    }
}
