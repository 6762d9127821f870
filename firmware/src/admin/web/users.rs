//! Users: mail users (SMTP AUTH) with the key that signs for them, administrators, and the
//! logged-in administrator's own account (language, password).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path as UrlPath, State};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use super::{blocking, done, render, PageCtx, PageResult};
use crate::admin::auth::{AdminInfo, Lang, Principal, Role};
use crate::admin::AdminState;

pub struct UserRow {
    pub name: String,
    pub addresses: String,
    /// Per address: the signing key's id and expiry, or none.
    pub keys: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "users.html")]
struct Page {
    p: PageCtx,
    users: Vec<UserRow>,
    admins: Vec<AdminInfo>,
}

pub async fn page(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    let ctx = PageCtx::new(&st, &p, "/users", super::i18n::texts(p.lang).users);
    let ks = st.keystore.clone();
    let keys = blocking(move || Ok(ks.list_keys()))
        .await
        .unwrap_or_default();
    let users = st
        .users
        .list()
        .into_iter()
        .map(|u| UserRow {
            keys: u
                .addresses
                .iter()
                .map(|a| {
                    keys.iter()
                        .find(|k| k.signing && k.addresses.contains(a))
                        .map(|k| {
                            (
                                a.clone(),
                                format!(
                                    "{} (→ {})",
                                    k.id,
                                    ctx.time.text(k.not_after.as_deref().unwrap_or_default())
                                ),
                            )
                        })
                        .unwrap_or_else(|| (a.clone(), "—".into()))
                })
                .collect(),
            addresses: u.addresses.join(", "),
            name: u.name,
        })
        .collect();
    render(&Page {
        p: ctx,
        users,
        admins: st.auth.admins.list(),
    })
}

#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    addresses: String,
    #[serde(default)]
    password: String,
}

pub async fn add_user(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Form(f): Form<NewUserForm>,
) -> Response {
    let users = st.users.clone();
    let addrs: Vec<String> = f
        .addresses
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let name = f.name.trim().to_string();
    let n2 = name.clone();
    let password = zeroize::Zeroizing::new(f.password);
    let outcome = blocking(move || users.add(&n2, &addrs, &password).map_err(|e| e.to_string()))
        .await
        .map(|()| format!("mail user {name} added"));
    done(&st, &p, "/users", outcome)
}

#[derive(Deserialize)]
pub struct NewAdminForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
}

pub async fn add_admin(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Form(f): Form<NewAdminForm>,
) -> Response {
    let role = Role::parse(&f.role).unwrap_or(Role::Readonly);
    let name = f.name.trim().to_string();
    let (st2, n2) = (st.clone(), name.clone());
    let password = zeroize::Zeroizing::new(f.password);
    let outcome = blocking(move || {
        st2.auth
            .admins
            .add(&n2, &password, role)
            .map_err(|e| e.to_string())
    })
    .await
    .map(|a| format!("administrator {} ({}) added", a.name, a.role.as_str()));
    done(&st, &p, "/users", outcome)
}

pub async fn delete_admin(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    UrlPath(name): UrlPath<String>,
) -> Response {
    let outcome = if name == p.name {
        Err("you cannot delete yourself".to_string())
    } else {
        st.auth
            .admins
            .delete(&name)
            .map(|()| {
                st.auth.sessions.remove_user(&name);
                format!("administrator {name} deleted")
            })
            .map_err(|e| e.to_string())
    };
    done(&st, &p, "/users", outcome)
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    p: PageCtx,
    lang: &'static str,
}

pub async fn account(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    let ctx = PageCtx::new(&st, &p, "/account", super::i18n::texts(p.lang).account);
    render(&AccountPage {
        p: ctx,
        lang: p.lang.code(),
    })
}

#[derive(Deserialize)]
pub struct LangForm {
    #[serde(default)]
    lang: String,
}

/// Every administrator may choose their language, read-only ones too.
pub async fn set_language(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Form(f): Form<LangForm>,
) -> Response {
    let outcome = match Lang::parse(&f.lang) {
        None => Err(format!("unknown language {:?}", f.lang)),
        Some(l) => st
            .auth
            .admins
            .set_lang(&p.name, l)
            .map(|()| {
                st.auth.sessions.set_lang(&p.name, l);
                super::i18n::texts(l).save.to_string() + " ✓"
            })
            .map_err(|e| e.to_string()),
    };
    done(&st, &p, "/account", outcome)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

pub async fn set_password(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Form(f): Form<PasswordForm>,
) -> Response {
    if f.password != f.password2 {
        return done(&st, &p, "/account", Err("the new passwords differ".into()));
    }
    let (st2, name) = (st.clone(), p.name.clone());
    let current = zeroize::Zeroizing::new(f.current);
    let password = zeroize::Zeroizing::new(f.password);
    let outcome = blocking(move || {
        if st2.auth.admins.verify(&name, &current).is_none() {
            return Err("the current password is wrong".to_string());
        }
        st2.auth
            .admins
            .passwd(&name, &password)
            .map_err(|e| e.to_string())
    })
    .await
    .map(|()| "password changed".to_string());
    done(&st, &p, "/account", outcome)
}
