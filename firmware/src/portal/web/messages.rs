//! The pages behind the login: the message list, reading a message, attachment download and
//! the secure reply. Times are local time of the box's zone with its abbreviation, as on the
//! admin pages ([`LocalTime`]).

use super::*;
use crate::appliance::zone::LocalTime;

fn parsed(bytes: &[u8]) -> Option<mail_parser::Message<'_>> {
    mail_parser::MessageParser::default().parse(bytes)
}

fn from_of(m: &mail_parser::Message) -> String {
    m.from()
        .and_then(|a| a.first())
        .map(|a| match (a.name(), a.address()) {
            (Some(n), Some(ad)) => format!("{n} <{ad}>"),
            (_, Some(ad)) => ad.to_string(),
            (Some(n), None) => n.to_string(),
            _ => String::new(),
        })
        .unwrap_or_default()
}

fn not_found(v: &Visitor) -> Response {
    let t = texts::page(v.lang);
    render(&page("message", v.lang, t.not_found), StatusCode::NOT_FOUND)
}

pub(super) async fn inbox(State(st): St, Extension(v): Extension<Visitor>) -> Response {
    let (store, who, cfg) = (st.store.clone(), v.address.clone(), st.cfg.clone());
    let rows = tokio::task::spawn_blocking(move || {
        // Read for each page (a file read), so a change of zone shows at once.
        let local = LocalTime::configured(&cfg);
        store
            .messages_of(&who)
            .into_iter()
            .filter_map(|m| {
                let (meta, bytes) = store.open_message(&who, &m.id).ok()?;
                let msg = parsed(&bytes);
                Some(Row {
                    id: meta.id,
                    from: msg.as_ref().map(from_of).unwrap_or_default(),
                    subject: msg
                        .as_ref()
                        .and_then(|m| m.subject().map(str::to_string))
                        .unwrap_or_default(),
                    received: local.minute(meta.created),
                    expires: local.minute(meta.expires),
                    read: meta.read,
                })
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    render(
        &InboxPage {
            t: texts::page(v.lang),
            v,
            rows,
        },
        StatusCode::OK,
    )
}

pub(super) async fn read(
    State(st): St,
    Extension(v): Extension<Visitor>,
    Path(id): Path<String>,
) -> Response {
    let Ok((meta, bytes)) = st.store.open_message(&v.address, &id) else {
        tracing::warn!(user = %v.address, "portal: message not found or not the user's");
        return not_found(&v);
    };
    let _ = st.store.mark_read(&id);
    let Some(msg) = parsed(&bytes) else {
        return not_found(&v);
    };
    let attachments = msg
        .attachments()
        .enumerate()
        .map(|(n, a)| Attachment {
            n,
            name: a
                .attachment_name()
                .map(str::to_string)
                .unwrap_or_else(|| format!("attachment-{}", n + 1)),
            size: a.contents().len(),
        })
        .collect();
    let page = MessagePage {
        t: texts::page(v.lang),
        id: meta.id.clone(),
        from: from_of(&msg),
        subject: msg.subject().unwrap_or_default().to_string(),
        received: LocalTime::configured(&st.cfg).minute(meta.created),
        text: msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        attachments,
        v,
    };
    render(&page, StatusCode::OK)
}

pub(super) async fn attachment(
    State(st): St,
    Extension(v): Extension<Visitor>,
    Path((id, n)): Path<(String, usize)>,
) -> Response {
    let Ok((_, bytes)) = st.store.open_message(&v.address, &id) else {
        return not_found(&v);
    };
    let Some(msg) = parsed(&bytes) else {
        return not_found(&v);
    };
    let Some(a) = msg.attachments().nth(n) else {
        return not_found(&v);
    };
    let name = a
        .attachment_name()
        .map(str::to_string)
        .unwrap_or_else(|| format!("attachment-{}", n + 1));
    crate::webkit::response::download(a.contents().to_vec(), "application/octet-stream", &name)
}

#[derive(Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    text: String,
}

pub(super) async fn reply(
    State(st): St,
    Extension(v): Extension<Visitor>,
    Path(id): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Response {
    let Ok((meta, bytes)) = st.store.open_message(&v.address, &id) else {
        return not_found(&v);
    };
    let Some(msg) = parsed(&bytes) else {
        return not_found(&v);
    };
    let (env, out) = crate::portal::mail::reply(
        &st.cfg,
        &v.address,
        &meta.sender,
        msg.subject().unwrap_or_default(),
        msg.message_id(),
        &f.text,
    );
    let t = texts::page(v.lang);
    let queue_id = env.id.clone();
    let q = st.queue.clone();
    let res = tokio::task::spawn_blocking(move || q.inject(env, &out))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    match res {
        Ok(()) => {
            tracing::info!(user = %v.address, to = %meta.sender, id = %queue_id, "portal reply queued");
            st.sessions.flash(&v.session, true, t.reply_sent);
        }
        Err(e) => {
            tracing::error!(error = %e, "portal reply not queued");
            st.sessions.flash(&v.session, false, e);
        }
    }
    Redirect::to(&format!("/messages/{id}")).into_response()
}
