//! The pages before the login: the set-up link, login, "forgot password", and the logout.

use super::*;

#[derive(Deserialize)]
pub struct LangQuery {
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    t: Option<String>,
}

pub(super) async fn root(State(st): St, headers: HeaderMap) -> Response {
    let live = guard::session_cookie_value(&headers, st.cookie())
        .and_then(|id| st.sessions.touch(&id))
        .is_some();
    Redirect::to(if live { "/messages" } else { "/login" }).into_response()
}

pub(super) async fn login_form(State(st): St, Query(q): Query<LangQuery>) -> Response {
    render(
        &page("login", lang_of(q.lang.as_deref(), &st), ""),
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    address: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    lang: String,
}

/// A new session for `address`: the cookie and a redirect to the messages.
fn start_session(st: &PortalState, address: &str, lang: Lang) -> Response {
    let id = st.sessions.create(address, Role::Readonly, lang);
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                guard::set_cookie(st.cookie(), st.https, &id),
            ),
            (header::LOCATION, "/messages".to_string()),
        ],
    )
        .into_response()
}

pub(super) fn cross_origin() -> Response {
    (StatusCode::FORBIDDEN, "cross-origin request refused").into_response()
}

pub(super) async fn login_submit(State(st): St, req: Request) -> Response {
    let ip = client_ip(&req);
    if !same_origin(req.headers(), st.https) {
        return cross_origin();
    }
    let Ok(Form(f)) = Form::<LoginForm>::from_request(req, &()).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let lang = lang_of(Some(&f.lang), &st);
    let t = texts::page(lang);
    let address = crate::address::normalize(&f.address);
    let mut p = page("login", lang, "");
    p.address = address.clone();
    if !st.limiter.allowed(ip, &address) {
        tracing::warn!(ip = ?ip, "portal login refused: rate limit");
        p.error = t.too_many.into();
        return render(&p, StatusCode::TOO_MANY_REQUESTS);
    }
    let password = zeroize::Zeroizing::new(f.password);
    let (store, a2) = (st.store.clone(), address.clone());
    let outcome = tokio::task::spawn_blocking(move || store.login(&a2, &password))
        .await
        .unwrap_or(LoginOutcome::Wrong);
    match outcome {
        LoginOutcome::Ok(who) => {
            st.limiter.succeeded(&who);
            tracing::info!(user = %who, ip = ?ip, "portal login");
            start_session(&st, &who, lang)
        }
        LoginOutcome::Wrong => {
            st.limiter.failed(ip, &address);
            tracing::warn!(user = %address, ip = ?ip, "portal login failed");
            p.error = t.login_failed.into();
            render(&p, StatusCode::UNAUTHORIZED)
        }
        LoginOutcome::Locked => {
            tracing::warn!(user = %address, ip = ?ip, "portal login refused: locked");
            p.error = t.locked.into();
            render(&p, StatusCode::FORBIDDEN)
        }
    }
}

pub(super) async fn forgot_form(State(st): St, Query(q): Query<LangQuery>) -> Response {
    render(
        &page("forgot", lang_of(q.lang.as_deref(), &st), ""),
        StatusCode::OK,
    )
}

/// Notes a reset request; the answer is the same for unknown addresses.
pub(super) async fn forgot_submit(State(st): St, req: Request) -> Response {
    let ip = client_ip(&req);
    if !same_origin(req.headers(), st.https) {
        return cross_origin();
    }
    let Ok(Form(f)) = Form::<LoginForm>::from_request(req, &()).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let lang = lang_of(Some(&f.lang), &st);
    let address = crate::address::normalize(&f.address);
    let store = st.store.clone();
    let a2 = address.clone();
    let r = tokio::task::spawn_blocking(move || store.request_reset(&a2)).await;
    if let Ok(Err(e)) = r {
        tracing::error!(error = %e, "portal reset request not stored");
    }
    tracing::info!(user = %address, ip = ?ip, "portal password reset requested");
    let mut p = page("message", lang, texts::page(lang).forgot_done);
    p.ok = true;
    render(&p, StatusCode::OK)
}

fn refused_page(lang: Lang, why: SetupRefused) -> Response {
    let t = texts::page(lang);
    let (status, text) = match why {
        SetupRefused::Expired => (StatusCode::GONE, t.link_expired),
        SetupRefused::Invalid => (StatusCode::NOT_FOUND, t.link_invalid),
        SetupRefused::WrongCode => (StatusCode::FORBIDDEN, t.wrong_code),
    };
    render(&page("message", lang, text), status)
}

pub(super) async fn setup_form(State(st): St, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(q.lang.as_deref(), &st);
    let token = q.t.unwrap_or_default();
    let (store, tk) = (st.store.clone(), token.clone());
    let found = tokio::task::spawn_blocking(move || store.setup_user(&tk))
        .await
        .unwrap_or(Err(SetupRefused::Invalid));
    match found {
        Ok(u) => {
            let mut p = page("setup", lang, "");
            p.address = u.address;
            p.token = token;
            p.need_code = !u.code_hash.is_empty();
            render(&p, StatusCode::OK)
        }
        Err(why) => refused_page(lang, why),
    }
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
    #[serde(default)]
    lang: String,
}

pub(super) async fn setup_submit(State(st): St, req: Request) -> Response {
    let ip = client_ip(&req);
    if !same_origin(req.headers(), st.https) {
        return cross_origin();
    }
    let Ok(Form(f)) = Form::<SetupForm>::from_request(req, &()).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let lang = lang_of(Some(&f.lang), &st);
    let t = texts::page(lang);
    let user = match st.store.setup_user(&f.token) {
        Ok(u) => u,
        Err(why) => return refused_page(lang, why),
    };
    let again = |error: &str, status: StatusCode| {
        let mut p = page("setup", lang, error);
        p.address = user.address.clone();
        p.token = f.token.clone();
        p.need_code = !user.code_hash.is_empty();
        render(&p, status)
    };
    if !st.limiter.allowed(ip, &user.address) {
        return again(t.too_many, StatusCode::TOO_MANY_REQUESTS);
    }
    if f.password.chars().count() < MIN_PASSWORD {
        return again(t.password_short, StatusCode::BAD_REQUEST);
    }
    if f.password != f.password2 {
        return again(t.password_mismatch, StatusCode::BAD_REQUEST);
    }
    let store = st.store.clone();
    let (token, code) = (f.token.clone(), f.code.clone());
    let password = zeroize::Zeroizing::new(f.password.clone());
    let done = tokio::task::spawn_blocking(move || store.complete_setup(&token, &code, &password))
        .await
        .unwrap_or(Err(SetupRefused::Invalid));
    match done {
        Ok(who) => {
            tracing::info!(user = %who, ip = ?ip, "portal password set");
            start_session(&st, &who, lang)
        }
        Err(SetupRefused::WrongCode) => {
            st.limiter.failed(ip, &user.address);
            tracing::warn!(user = %user.address, ip = ?ip, "portal set-up: wrong code");
            match st.store.setup_user(&f.token) {
                Ok(_) => again(t.wrong_code, StatusCode::FORBIDDEN),
                Err(_) => render(&page("message", lang, t.locked), StatusCode::FORBIDDEN),
            }
        }
        Err(why) => refused_page(lang, why),
    }
}

pub(super) async fn logout(State(st): St, Extension(v): Extension<Visitor>) -> Response {
    st.sessions.remove(&v.session);
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                guard::unset_cookie(st.cookie(), st.https),
            ),
            (header::LOCATION, "/login".to_string()),
        ],
    )
        .into_response()
}
