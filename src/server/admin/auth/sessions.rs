//! Server-side sessions: a random 256-bit id in the `gatewatch_session` cookie names a session
//! kept here (by the id's SHA-256, so the store never holds a usable cookie). Sessions expire
//! after `auth.session_ttl_s`; at most [`MAX_SESSIONS`] are kept (the oldest go first). A session
//! ends when its user is removed from the config or changed (role or password), which is checked
//! whenever it is used and after every reload.

use super::credentials::{hex, random_bytes, sha256};
use crate::server::config::{AuthConfig, UserAccount};
use crate::views::Role;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most sessions kept at once.
pub const MAX_SESSIONS: usize = 10_000;
/// The cookie's name.
pub const COOKIE: &str = "gatewatch_session";

/// A signed-in user, as a session knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionUser {
    pub name: String,
    pub role: Role,
}

#[derive(Debug)]
struct Session {
    user: SessionUser,
    /// The SHA-256 of the user's password hash at sign-in: a changed password ends the session.
    credential: [u8; 32],
    created: Instant,
    expires: Instant,
}

/// The sessions of signed-in users.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    /// Starts a session for `user`, lasting `ttl` from `now`; returns the cookie's value.
    pub fn create(&self, user: &UserAccount, ttl: Duration, now: Instant) -> String {
        let id = hex(&random_bytes::<32>());
        let mut sessions = self.lock();
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, session| session.expires > now);
        }
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, session)| session.created)
                .map(|(key, _)| *key)
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            sha256(id.as_bytes()),
            Session {
                user: SessionUser {
                    name: user.name.clone(),
                    role: user.role,
                },
                credential: sha256(user.password_hash.as_bytes()),
                created: now,
                expires: now + ttl,
            },
        );
        id
    }

    /// The user of the session `cookie` names, if it is current and its user unchanged in
    /// `auth`; a session that is not is ended.
    pub fn find(&self, cookie: &str, auth: &AuthConfig, now: Instant) -> Option<SessionUser> {
        let key = sha256(cookie.as_bytes());
        let mut sessions = self.lock();
        let session = sessions.get(&key)?;
        if session.expires > now && still_valid(session, auth) {
            Some(session.user.clone())
        } else {
            sessions.remove(&key);
            None
        }
    }

    /// Ends the session `cookie` names; returns its user.
    pub fn end(&self, cookie: &str) -> Option<SessionUser> {
        self.lock()
            .remove(&sha256(cookie.as_bytes()))
            .map(|session| session.user)
    }

    /// Ends every expired session and every session whose user `auth` no longer has unchanged
    /// (called after a reload). Returns how many ended.
    pub fn prune(&self, auth: &AuthConfig, now: Instant) -> usize {
        let mut sessions = self.lock();
        let before = sessions.len();
        sessions.retain(|_, session| session.expires > now && still_valid(session, auth));
        before - sessions.len()
    }

    /// How many sessions are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.by_id.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn still_valid(session: &Session, auth: &AuthConfig) -> bool {
    auth.user(&session.user.name).is_some_and(|user| {
        user.role == session.user.role
            && sha256(user.password_hash.as_bytes()) == session.credential
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, hash: &str, role: Role) -> UserAccount {
        UserAccount {
            name: name.into(),
            password_hash: hash.into(),
            role,
        }
    }

    fn auth(users: Vec<UserAccount>) -> AuthConfig {
        AuthConfig {
            users,
            ..AuthConfig::default()
        }
    }

    #[test]
    fn a_session_lasts_its_ttl() {
        let sessions = Sessions::default();
        let alice = user("alice", "h1", Role::Admin);
        let config = auth(vec![alice.clone()]);
        let now = Instant::now();
        let cookie = sessions.create(&alice, Duration::from_secs(60), now);
        assert_eq!(cookie.len(), 64);
        let found = sessions.find(&cookie, &config, now).unwrap();
        assert_eq!(found.name, "alice");
        assert_eq!(found.role, Role::Admin);
        assert!(sessions.find("not-a-session", &config, now).is_none());
        assert!(
            sessions
                .find(&cookie, &config, now + Duration::from_secs(61))
                .is_none()
        );
        assert!(sessions.is_empty(), "the expired session was removed");
    }

    #[test]
    fn removing_or_changing_a_user_ends_their_sessions() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let ttl = Duration::from_secs(600);
        let alice = user("alice", "h1", Role::Admin);
        let bob = user("bob", "h2", Role::Viewer);
        let carol = user("carol", "h3", Role::Viewer);
        let a = sessions.create(&alice, ttl, now);
        let b = sessions.create(&bob, ttl, now);
        let c = sessions.create(&carol, ttl, now);
        // Alice's password changed, Bob became an admin, Carol is unchanged.
        let reloaded = auth(vec![
            user("alice", "h1-new", Role::Admin),
            user("bob", "h2", Role::Admin),
            carol,
        ]);
        assert_eq!(sessions.prune(&reloaded, now), 2);
        assert!(sessions.find(&a, &reloaded, now).is_none());
        assert!(sessions.find(&b, &reloaded, now).is_none());
        assert_eq!(sessions.find(&c, &reloaded, now).unwrap().name, "carol");
        assert_eq!(sessions.end(&c).unwrap().name, "carol");
        assert!(sessions.find(&c, &reloaded, now).is_none());
    }

    #[test]
    fn the_store_is_bounded() {
        let sessions = Sessions::default();
        let alice = user("alice", "h", Role::Viewer);
        let now = Instant::now();
        let first = sessions.create(&alice, Duration::from_secs(600), now);
        for n in 1..=MAX_SESSIONS {
            sessions.create(
                &alice,
                Duration::from_secs(600),
                now + Duration::from_millis(n as u64),
            );
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert!(
            sessions.find(&first, &auth(vec![alice]), now).is_none(),
            "the oldest went first"
        );
    }
}
