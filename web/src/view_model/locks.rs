//! Strategy locks as data: who may lock a plan on the strategy desk (as the relay permits it), the body of
//! `PUT /api/v1/strategy/lock`, the answers of the locks endpoints, and a lock as the desk shows it. Pure, tested
//! natively; `locks` (wasm only) does the calls and draws the bar.
//!
//! The relay's rule is [`may_lock`]'s: locking and unlocking need a strategist's or the engineer's token, and a
//! page without a token is refused even where reads are open, so such a page gets no Lock button.

use serde::{Deserialize, Serialize};

use super::share::{Access, Role, relay_error};

/// The longest plan label the relay accepts, in characters.
pub const MAX_PLAN_CHARS: usize = 80;
/// The longest comment the relay accepts, in characters.
pub const MAX_COMMENT_CHARS: usize = 500;
/// How often the desk asks for the locks while it is open and the page is visible, in milliseconds.
pub const POLL_MS: u32 = 10_000;

/// A strategy option locked for one car, as `GET /api/v1/strategy/lock` lists it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct StrategyLock {
    /// The car.
    pub car_idx: u8,
    /// Its driver's code when it was locked.
    #[serde(default)]
    pub driver: String,
    /// The plan's label, as the desk names it.
    pub plan: String,
    /// Why, for the wall; may be empty.
    #[serde(default)]
    pub comment: String,
    /// Who locked it: `role:token id`.
    #[serde(default)]
    pub by: String,
    /// When, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub at_unix_ms: u64,
    /// The car's lap when it was locked.
    #[serde(default)]
    pub lap: u32,
}

/// Whether the page may lock and unlock strategy options: a strategist's or the engineer's token. The relay
/// refuses a page without a token (`401`) even where its reads are open, and an analyst's (`403`).
pub fn may_lock(access: &Access) -> bool {
    matches!(access, Access::Granted { role, .. } if *role >= Role::Strategist)
}

/// The body of `PUT /api/v1/strategy/lock` for `plan` on `car_idx`, checked as the relay checks it.
///
/// # Errors
/// A message for the screen when the plan is empty or too long, the comment is over [`MAX_COMMENT_CHARS`], or
/// either holds a control character other than a newline.
pub fn lock_body(car_idx: u8, plan: &str, comment: &str) -> Result<String, String> {
    #[derive(Serialize)]
    struct LockRequest<'a> {
        car_idx: u8,
        plan: &'a str,
        comment: &'a str,
    }
    let plan = plan.trim();
    if plan.is_empty() || plan.chars().count() > MAX_PLAN_CHARS {
        return Err(format!(
            "the plan's label needs 1 to {MAX_PLAN_CHARS} characters"
        ));
    }
    let comment = comment.trim();
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(format!(
            "the comment is {} characters; at most {MAX_COMMENT_CHARS}",
            comment.chars().count()
        ));
    }
    if plan
        .chars()
        .chain(comment.chars())
        .any(|c| c.is_control() && c != '\n')
    {
        return Err("the comment holds a control character".to_owned());
    }
    serde_json::to_string(&LockRequest {
        car_idx,
        plan,
        comment,
    })
    .map_err(|e| format!("cannot write the lock: {e}"))
}

/// The locks in `GET /api/v1/strategy/lock`'s answer (HTTP `status` and `body`).
///
/// # Errors
/// The relay's error message, or the HTTP status, when the answer is not the list.
pub fn read_locks(status: u16, body: &str) -> Result<Vec<StrategyLock>, String> {
    #[derive(Deserialize)]
    struct LockList {
        locks: Vec<StrategyLock>,
    }
    if status == 200
        && let Ok(list) = serde_json::from_str::<LockList>(body)
    {
        return Ok(list.locks);
    }
    Err(refusal(status, body))
}

/// The lock in the answer of `PUT /api/v1/strategy/lock` (the lock stored) or `DELETE …/{car}` (the lock removed).
///
/// # Errors
/// The relay's error message, or the HTTP status, when it refused.
pub fn read_answer(status: u16, body: &str) -> Result<StrategyLock, String> {
    #[derive(Deserialize)]
    struct LockAnswer {
        lock: StrategyLock,
    }
    if status == 200
        && let Ok(answer) = serde_json::from_str::<LockAnswer>(body)
    {
        return Ok(answer.lock);
    }
    Err(refusal(status, body))
}

/// What a refusal says, for the screen: the relay's JSON error message, else the status.
fn refusal(status: u16, body: &str) -> String {
    match relay_error(body) {
        Some((code, message)) => format!("the relay refused: {message} ({code})"),
        None => format!("the relay answered HTTP {status}"),
    }
}

/// The path that removes `car_idx`'s lock.
pub fn unlock_path(car_idx: u8) -> String {
    format!("/api/v1/strategy/lock/{car_idx}")
}

/// A lock as the desk shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct LockView {
    /// The plan locked: `M-8-H-34-S`.
    pub plan: String,
    /// The comment, or empty.
    pub comment: String,
    /// Who and when: `engineer (control) · lap 23 · 14:05 UTC`.
    pub by: String,
}

/// The lock on `car_idx` among `locks`, as the desk shows it.
pub fn car_lock(locks: &[StrategyLock], car_idx: u8) -> Option<LockView> {
    let lock = locks.iter().find(|l| l.car_idx == car_idx)?;
    let who = match lock.by.split_once(':') {
        Some((role, id)) if !id.is_empty() => format!("{role} ({id})"),
        _ if lock.by.is_empty() => "unknown".to_owned(),
        _ => lock.by.clone(),
    };
    let mut by = format!("{who} · lap {}", lock.lap);
    if lock.at_unix_ms > 0 {
        by.push_str(&format!(" · {}", clock_utc(lock.at_unix_ms)));
    }
    Some(LockView {
        plan: lock.plan.clone(),
        comment: lock.comment.clone(),
        by,
    })
}

/// The time of day of a Unix time in milliseconds: `14:05 UTC`.
pub fn clock_utc(unix_ms: u64) -> String {
    let day_s = (unix_ms / 1000) % 86_400;
    format!("{:02}:{:02} UTC", day_s / 3600, day_s % 3600 / 60)
}

/// What is left of the comment's characters: `480 left`, or how far over it is.
pub fn comment_left(comment: &str) -> String {
    let n = comment.trim().chars().count();
    if n <= MAX_COMMENT_CHARS {
        format!("{} left", MAX_COMMENT_CHARS - n)
    } else {
        format!("{} too many", n - MAX_COMMENT_CHARS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(role: Role) -> Access {
        Access::Granted {
            role,
            expires_at: None,
        }
    }

    #[test]
    fn strategists_and_the_engineer_may_lock_as_the_relay_permits() {
        assert!(may_lock(&granted(Role::Engineer)));
        assert!(may_lock(&granted(Role::Strategist)));
        assert!(!may_lock(&granted(Role::Analyst)));
        // No token: the relay refuses a lock even where reads are open.
        assert!(!may_lock(&Access::Open));
        assert!(!may_lock(&Access::Checking));
        assert!(!may_lock(&Access::Denied(
            crate::view_model::share::Denial::Expired
        )));
    }

    #[test]
    fn the_body_is_what_the_relay_reads() {
        let body = lock_body(7, " M-8-H-34-S ", " cover the undercut\n").unwrap();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"car_idx": 7, "plan": "M-8-H-34-S", "comment": "cover the undercut"})
        );
        assert_eq!(
            lock_body(0, "M-H", "").unwrap(),
            r#"{"car_idx":0,"plan":"M-H","comment":""}"#
        );
        assert!(lock_body(0, "M-H", &"é".repeat(500)).is_ok());
        assert!(
            lock_body(0, "M-H", &"é".repeat(501))
                .unwrap_err()
                .contains("501")
        );
        assert!(lock_body(0, "  ", "x").is_err());
        assert!(lock_body(0, &"M".repeat(81), "x").is_err());
        assert!(lock_body(0, "M-H", "a\tb").is_err());
        assert!(lock_body(0, "M-H", "two\nlines").is_ok());
    }

    #[test]
    fn the_answers_are_read_and_refusals_say_why() {
        let list = r#"{"schema_version": 1, "session": "live-1-1", "locks": [
            {"car_idx": 3, "driver": "VER", "plan": "M-8-H-34-S", "comment": "cover", "by": "strategist:9f2c",
             "at_unix_ms": 1765029900000, "session_time_s": 1200.5, "lap": 23}]}"#;
        let locks = read_locks(200, list).unwrap();
        assert_eq!(locks.len(), 1);
        assert_eq!(locks[0].driver, "VER");
        assert_eq!(read_locks(200, r#"{"locks": []}"#), Ok(Vec::new()));
        assert_eq!(
            read_locks(
                401,
                r#"{"error": {"code": "unauthorized", "message": "needs a token"}}"#
            ),
            Err("the relay refused: needs a token (unauthorized)".to_owned())
        );
        assert_eq!(
            read_locks(502, "<html>"),
            Err("the relay answered HTTP 502".to_owned())
        );
        let answer = r#"{"schema_version": 1, "lock": {"car_idx": 3, "driver": "VER", "plan": "M-H",
            "comment": "", "by": "engineer:control", "at_unix_ms": 0, "session_time_s": 1.0, "lap": 4}}"#;
        assert_eq!(read_answer(200, answer).unwrap().plan, "M-H");
        assert_eq!(
            read_answer(
                403,
                r#"{"error": {"code": "forbidden", "message": "needs the strategist role"}}"#
            ),
            Err("the relay refused: needs the strategist role (forbidden)".to_owned())
        );
        assert_eq!(unlock_path(3), "/api/v1/strategy/lock/3");
    }

    #[test]
    fn a_lock_reads_plan_comment_who_and_when() {
        let lock = |car_idx, by: &str, at_unix_ms| StrategyLock {
            car_idx,
            driver: "VER".into(),
            plan: "M-8-H-34-S".into(),
            comment: "cover the undercut".into(),
            by: by.into(),
            at_unix_ms,
            lap: 23,
        };
        // 2025-12-06 14:05:00 UTC.
        let locks = [
            lock(1, "engineer:control", 1_765_029_900_000),
            lock(3, "", 0),
        ];
        assert_eq!(
            car_lock(&locks, 1),
            Some(LockView {
                plan: "M-8-H-34-S".into(),
                comment: "cover the undercut".into(),
                by: "engineer (control) · lap 23 · 14:05 UTC".into(),
            })
        );
        assert_eq!(car_lock(&locks, 3).unwrap().by, "unknown · lap 23");
        assert_eq!(car_lock(&locks, 2), None);
        assert_eq!(clock_utc(0), "00:00 UTC");
        assert_eq!(comment_left(""), "500 left");
        assert_eq!(comment_left(&"x".repeat(502)), "2 too many");
    }
}
