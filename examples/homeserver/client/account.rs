//! Accounts: registration (the `m.login.dummy` user-interactive flow), password login,
//! logout, whoami and the profile (display name and avatar URL, which also update the
//! user's member event in every joined room).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use matrix_serverlib::federation::outbound::Method;
use matrix_serverlib::federation::path;
use matrix_serverlib::id::UserId;
use matrix_serverlib::json::Value as CanonicalValue;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::{AppserviceToken, Auth, ClientAddr, JsonBody, Params};
use crate::random_string;
use crate::rooms::{self, Draft};
use crate::storage::NewEvent;

/// The longest display name accepted, in characters (as Synapse).
const MAX_DISPLAYNAME_LEN: usize = 256;
/// The longest avatar URL accepted, in characters (as Synapse).
const MAX_AVATAR_URL_LEN: usize = 1000;

/// `GET /login`: the supported login types.
pub(crate) async fn login_flows() -> Json<Value> {
    Json(json!({ "flows": [{ "type": "m.login.password" }] }))
}

/// `POST /register`: the `m.login.dummy` flow. Without `auth` the answer is the 401
/// challenge (flows, params, session); with a dummy stage the account is made.
pub(crate) async fn register(
    State(app): State<App>,
    ClientAddr(addr): ClientAddr,
    AppserviceToken(appservice): AppserviceToken,
    params: Params,
    body: JsonBody,
) -> ApiResult<Response> {
    let login_type = body.opt_str("type")?.or(body
        .opt_object("auth")?
        .and_then(|auth| auth.get("type"))
        .and_then(Value::as_str));
    if login_type == Some(APPSERVICE_LOGIN) {
        return register_appservice_user(&app, appservice, &body).await;
    }
    if params.get("kind") == Some("guest") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "M_GUEST_ACCESS_FORBIDDEN",
            "guest access is not supported",
        ));
    }
    let localpart = match body.opt_str("username")? {
        Some(name) => name.to_lowercase(),
        None => random_string(12).to_lowercase(),
    };
    let user_id = local_user_id(&app, &localpart)?;
    refuse_exclusive(&app, &user_id)?;
    let taken_check = user_id.clone();
    if app
        .db(move |store| store.account_exists(&taken_check))
        .await?
    {
        return Err(user_in_use());
    }
    let Some(auth) = body.opt_object("auth")? else {
        return Ok(uia_challenge(None));
    };
    if auth.get("type").and_then(Value::as_str) != Some("m.login.dummy") {
        return Ok(uia_challenge(Some("unsupported authentication stage")));
    }
    let password = body.str("password")?.to_owned();
    app.limiters().registration.take(&addr.to_string())?;
    let hash = app.hasher().hash(password).await?;
    let inhibit_login = body.opt_bool("inhibit_login")?.unwrap_or(false);
    let device_id = body
        .opt_str("device_id")?
        .map_or_else(|| random_string(10).to_uppercase(), str::to_owned);
    let token = random_string(40);
    let (user, device, access) = (user_id.clone(), device_id.clone(), token.clone());
    app.db(move |store| {
        let now = crate::now_ms();
        if !store.create_account(&user, &hash, now)? {
            return Err(user_in_use());
        }
        if !inhibit_login {
            store.insert_token(&access, &user, &device, now)?;
        }
        Ok(())
    })
    .await?;
    let response = if inhibit_login {
        json!({ "user_id": user_id })
    } else {
        json!({ "user_id": user_id, "access_token": token, "device_id": device_id })
    };
    Ok(Json(response).into_response())
}

/// `GET /register/available`.
pub(crate) async fn register_available(
    State(app): State<App>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let localpart = params
        .get("username")
        .ok_or_else(|| ApiError::missing_param("username"))?;
    let user_id = local_user_id(&app, &localpart.to_lowercase())?;
    refuse_exclusive(&app, &user_id)?;
    if app.db(move |store| store.account_exists(&user_id)).await? {
        return Err(user_in_use());
    }
    Ok(Json(json!({ "available": true })))
}

/// The registration type of application services.
const APPSERVICE_LOGIN: &str = "m.login.application_service";

/// The stored password hash of a user an application service registered: no
/// password verifies against it (it is not an Argon2 hash), so the user can log in
/// only through the service.
const NO_PASSWORD: &str = "!appservice";

/// Registration by an application service (`m.login.application_service`, with its
/// `as_token`) of a user in its namespace: no password, no user-interactive stage,
/// no rate limit; `inhibit_login` as for any registration. The localpart may start
/// with `_` (bridges' namespaces often do), and the core decides whether the user is
/// the service's to take (`may_register_as`).
async fn register_appservice_user(
    app: &App,
    appservice: Option<Option<String>>,
    body: &JsonBody,
) -> ApiResult<Response> {
    let service_id = match appservice {
        Some(Some(id)) => id,
        Some(None) => return Err(ApiError::unknown_token()),
        None => return Err(ApiError::missing_token()),
    };
    let service = app
        .appservices()
        .get(&service_id)
        .ok_or_else(ApiError::unknown_token)?;
    let localpart = body.str("username")?.to_lowercase();
    let user_id = format!("@{localpart}:{}", app.server_name());
    if !valid_localpart(&localpart, &user_id) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "M_INVALID_USERNAME",
            "user names may contain only a-z, 0-9 and ._=-/+",
        ));
    }
    if !app.appservices().may_register_as(service, &user_id) {
        return Err(exclusive(format!(
            "{user_id} is not in the namespace of application service {service_id}"
        )));
    }
    let inhibit_login = body.opt_bool("inhibit_login")?.unwrap_or(false);
    let device_id = body
        .opt_str("device_id")?
        .map_or_else(|| random_string(10).to_uppercase(), str::to_owned);
    let token = random_string(40);
    let (user, device, access) = (user_id.clone(), device_id.clone(), token.clone());
    app.db(move |store| {
        let now = crate::now_ms();
        if !store.create_account(&user, NO_PASSWORD, now)? {
            return Err(user_in_use());
        }
        if !inhibit_login {
            store.insert_token(&access, &user, &device, now)?;
        }
        Ok(())
    })
    .await?;
    let response = if inhibit_login {
        json!({ "user_id": user_id })
    } else {
        json!({ "user_id": user_id, "access_token": token, "device_id": device_id })
    };
    Ok(Json(response).into_response())
}

/// 400 `M_EXCLUSIVE` when an application service holds `user_id` exclusively.
fn refuse_exclusive(app: &App, user_id: &str) -> ApiResult<()> {
    match app.appservices().exclusive_user_owner(user_id) {
        Some(owner) => Err(exclusive(format!(
            "{user_id} is reserved by application service {}",
            owner.id()
        ))),
        None => Ok(()),
    }
}

/// 400 `M_EXCLUSIVE`: a name an application service holds.
pub(crate) fn exclusive(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "M_EXCLUSIVE", message)
}

/// The 401 answer of user-interactive authentication, offering the dummy stage.
fn uia_challenge(error: Option<&str>) -> Response {
    let mut body = json!({
        "flows": [{ "stages": ["m.login.dummy"] }],
        "params": {},
        "session": random_string(24),
    });
    if let Some(error) = error {
        body["errcode"] = json!("M_FORBIDDEN");
        body["error"] = json!(error);
    }
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

fn user_in_use() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "M_USER_IN_USE",
        "user ID already taken",
    )
}

/// `@localpart:server` for a new user, checked against the user ID grammar.
fn local_user_id(app: &App, localpart: &str) -> ApiResult<String> {
    let user_id = format!("@{localpart}:{}", app.server_name());
    if localpart.starts_with('_') {
        // Reserved, as Synapse reserves it (for application services and the like).
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "M_INVALID_USERNAME",
            "user names may not start with _",
        ));
    }
    if !valid_localpart(localpart, &user_id) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "M_INVALID_USERNAME",
            "user names may contain only a-z, 0-9 and ._=-/+",
        ));
    }
    Ok(user_id)
}

/// Whether `localpart` has only the characters registration allows and makes a valid
/// `user_id`.
fn valid_localpart(localpart: &str, user_id: &str) -> bool {
    !localpart.is_empty()
        && localpart.bytes().all(
            |b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'=' | b'-' | b'/' | b'+'),
        )
        && UserId::parse_strict(user_id).is_ok()
}

/// `POST /login` with `m.login.password`.
pub(crate) async fn login(
    State(app): State<App>,
    ClientAddr(addr): ClientAddr,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let limiters = app.limiters();
    limiters.login_address.take(&addr.to_string())?;
    if body.str("type")? != "m.login.password" {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "M_UNKNOWN",
            "unknown login type",
        ));
    }
    let user = match body.opt_object("identifier")? {
        Some(identifier) => {
            if identifier.get("type").and_then(Value::as_str) != Some("m.id.user") {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "M_UNKNOWN",
                    "only m.id.user identifiers are supported",
                ));
            }
            identifier
                .get("user")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::missing_param("identifier.user"))?
                .to_owned()
        }
        None => body.str("user")?.to_owned(),
    };
    let user_id = login_user_id(&app, &user);
    let password = body.str("password")?.to_owned();
    limiters.login_account.take(&user_id)?;
    limiters.login_failed.check(&user_id)?;
    let lookup = user_id.clone();
    let stored = app.db(move |store| store.password_hash(&lookup)).await?;
    let matches = match stored {
        Some(stored) => app.hasher().verify(password, stored).await?,
        None => false,
    };
    if !matches {
        // Counted only after the fact: a refusal here is already the answer.
        let _ = limiters.login_failed.take(&user_id);
        return Err(ApiError::forbidden("invalid user name or password"));
    }
    let device_id = body
        .opt_str("device_id")?
        .map_or_else(|| random_string(10).to_uppercase(), str::to_owned);
    let token = random_string(40);
    let (user, device, access) = (user_id.clone(), device_id.clone(), token.clone());
    app.db(move |store| store.insert_token(&access, &user, &device, crate::now_ms()))
        .await?;
    Ok(Json(json!({
        "user_id": user_id,
        "access_token": token,
        "device_id": device_id,
        "home_server": app.server_name(),
    })))
}

/// The user ID a login names: a localpart, or a full user ID of this server, either in
/// any case (local user IDs are lower case, as registration makes them).
fn login_user_id(app: &App, user: &str) -> String {
    let server_name = app.server_name();
    match user.strip_prefix('@') {
        None => format!("@{}:{server_name}", user.to_lowercase()),
        Some(rest) => match rest.split_once(':') {
            Some((localpart, server)) if server.eq_ignore_ascii_case(server_name) => {
                format!("@{}:{server_name}", localpart.to_lowercase())
            }
            _ => user.to_owned(),
        },
    }
}

/// `POST /logout`: ends this access token.
pub(crate) async fn logout(State(app): State<App>, auth: Auth) -> ApiResult<Json<Value>> {
    app.db(move |store| store.delete_token(&auth.token)).await?;
    Ok(Json(json!({})))
}

/// `POST /logout/all`: ends every access token of the user.
pub(crate) async fn logout_all(State(app): State<App>, auth: Auth) -> ApiResult<Json<Value>> {
    app.db(move |store| store.delete_all_tokens(&auth.user_id))
        .await?;
    Ok(Json(json!({})))
}

/// `GET /account/whoami`.
pub(crate) async fn whoami(auth: Auth) -> Json<Value> {
    Json(json!({ "user_id": auth.user_id, "device_id": auth.device_id, "is_guest": false }))
}

/// `GET /profile/{userId}`.
pub(crate) async fn profile(
    State(app): State<App>,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (displayname, avatar_url) = lookup_profile(&app, &user_id, None).await?;
    let mut body = json!({});
    if let Some(name) = displayname {
        body["displayname"] = json!(name);
    }
    if let Some(url) = avatar_url {
        body["avatar_url"] = json!(url);
    }
    Ok(Json(body))
}

/// `GET /profile/{userId}/displayname` and `.../avatar_url`.
pub(crate) async fn profile_field(
    State(app): State<App>,
    Path((user_id, field)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let field = ProfileField::parse(&field)?;
    let (displayname, avatar_url) = lookup_profile(&app, &user_id, Some(field)).await?;
    let value = match field {
        ProfileField::Displayname => displayname,
        ProfileField::AvatarUrl => avatar_url,
    };
    let value = value.ok_or_else(|| ApiError::not_found(format!("no {} set", field.key())))?;
    Ok(Json(json!({ field.key(): value })))
}

/// `PUT /profile/{userId}/displayname` and `.../avatar_url`: stores the field and sends
/// an updated member event into every room the user is joined to. The value is checked
/// and every member event built and authorised before anything is stored; then the field
/// and all the events are stored in one transaction.
pub(crate) async fn set_profile_field(
    State(app): State<App>,
    auth: Auth,
    Path((user_id, field)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let field = ProfileField::parse(&field)?;
    if user_id != auth.user_id {
        return Err(ApiError::forbidden("cannot change another user's profile"));
    }
    let value = body.opt_str(field.key())?.map(str::to_owned);
    if let Some(value) = &value
        && value.chars().count() > field.max_len()
    {
        return Err(ApiError::invalid_param(format!(
            "{} is longer than {} characters",
            field.key(),
            field.max_len()
        )));
    }
    let handle = app.clone();
    app.db(move |store| {
        let mut prepared = Vec::new();
        for room_id in rooms::joined_rooms(store, &user_id)? {
            let mut content = rooms::member_content(store, &user_id, "join")?;
            match &value {
                Some(value) => content.insert(field.key(), CanonicalValue::from(value.as_str())),
                None => content.remove(field.key()),
            };
            let draft = Draft::state("m.room.member", &user_id, content);
            prepared.push(rooms::prepare(store, &handle, &room_id, &user_id, draft)?);
        }
        let events: Vec<NewEvent<'_>> = prepared
            .iter()
            .map(|(pdu, state_after)| NewEvent {
                pdu,
                state_after,
                txn: None,
            })
            .collect();
        store.update_profile(&user_id, field.key(), value.as_deref(), &events)?;
        for (pdu, _) in &prepared {
            rooms::federate(store, &handle, pdu, None)?;
        }
        handle.notify();
        Ok(())
    })
    .await?;
    Ok(Json(json!({})))
}

/// A user's display name and avatar URL: from the database for our users, over
/// federation (`/query/profile`) for others.
async fn lookup_profile(
    app: &App,
    user_id: &str,
    field: Option<ProfileField>,
) -> ApiResult<(Option<String>, Option<String>)> {
    let parsed = UserId::parse(user_id)
        .map_err(|e| ApiError::invalid_param(format!("user ID {user_id}: {e}")))?;
    if parsed.server_name() == app.server_name() {
        crate::appservice::ensure_user(app, user_id).await?;
        let lookup = user_id.to_owned();
        return app
            .db(move |store| store.profile(&lookup))
            .await?
            .ok_or_else(|| ApiError::not_found(format!("unknown user {user_id}")));
    }
    let peers = app
        .peers()
        .ok_or_else(|| ApiError::not_found(format!("{user_id} is on another server")))?;
    let uri = path::query_profile(&parsed, field.map(ProfileField::key));
    let (status, body) = peers
        .request(parsed.server_name(), Method::Get, &uri, None)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "M_UNKNOWN",
                format!("{}: {e}", parsed.server_name()),
            )
        })?;
    if status == 404 {
        return Err(ApiError::not_found(format!("unknown user {user_id}")));
    }
    if status != 200 {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "M_UNKNOWN",
            format!("{} answered {status}", parsed.server_name()),
        ));
    }
    let text = |key: &str| {
        body.get(key)
            .and_then(CanonicalValue::as_str)
            .map(str::to_owned)
    };
    Ok((text("displayname"), text("avatar_url")))
}

/// The profile fields this server keeps.
#[derive(Debug, Clone, Copy)]
enum ProfileField {
    AvatarUrl,
    Displayname,
}

impl ProfileField {
    fn parse(text: &str) -> ApiResult<Self> {
        match text {
            "avatar_url" => Ok(Self::AvatarUrl),
            "displayname" => Ok(Self::Displayname),
            _ => Err(ApiError::unrecognized()),
        }
    }

    fn max_len(self) -> usize {
        match self {
            Self::AvatarUrl => MAX_AVATAR_URL_LEN,
            Self::Displayname => MAX_DISPLAYNAME_LEN,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::AvatarUrl => "avatar_url",
            Self::Displayname => "displayname",
        }
    }
}
