//! `#[store_test]`: defining a storage conformance case registers it on both backends.
//!
//! ```text
//! #[store_test]
//! pub async fn keys_crud(store: Shared) { … }
//! ```
//!
//! keeps the function and adds, next to it,
//!
//! ```text
//! mod keys_crud {
//!     #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//!     async fn sqlite() { crate::harness::run_sqlite(super::keys_crud).await; }
//!     #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//!     async fn postgres() { crate::harness::run_postgres(super::keys_crud).await; }
//! }
//! ```
//!
//! so the test crate provides `harness::run_sqlite` and `harness::run_postgres`. Written
//! against `proc_macro` alone: all it needs from the item is the function's name.

use proc_macro::{TokenStream, TokenTree};

#[proc_macro_attribute]
pub fn store_test(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return error("#[store_test] takes no arguments");
    }
    let Some(name) = async_fn_name(&item) else {
        return error("#[store_test] goes on an `async fn` that takes the store");
    };
    let tests = format!(
        "#[doc = \"`{name}` on each backend.\"]
        mod {name} {{
            #[::tokio::test(flavor = \"multi_thread\", worker_threads = 2)]
            async fn sqlite() {{
                crate::harness::run_sqlite(super::{name}).await;
            }}
            #[::tokio::test(flavor = \"multi_thread\", worker_threads = 2)]
            async fn postgres() {{
                crate::harness::run_postgres(super::{name}).await;
            }}
        }}"
    );
    let mut out = item;
    out.extend(tests.parse::<TokenStream>().expect("generated tests parse"));
    out
}

/// The name after `async fn`, at the item's top level (not inside its body).
fn async_fn_name(item: &TokenStream) -> Option<String> {
    let tokens: Vec<TokenTree> = item.clone().into_iter().collect();
    tokens.windows(3).find_map(|w| match w {
        [
            TokenTree::Ident(a),
            TokenTree::Ident(f),
            TokenTree::Ident(name),
        ] if a.to_string() == "async" && f.to_string() == "fn" => Some(name.to_string()),
        _ => None,
    })
}

fn error(message: &str) -> TokenStream {
    format!("::core::compile_error!({message:?});")
        .parse()
        .expect("compile_error parses")
}
