use super::state::TenantState;
use super::*;

fn tier() -> Tier {
    Tier::new(
        "free",
        Some(1000),
        Some(3),
        vec![
            Window {
                metric: Metric::Requests,
                scope: "*".into(),
                limit: 2,
                seconds: 60,
            },
            Window {
                metric: Metric::UploadBytes,
                scope: "upload".into(),
                limit: 1500,
                seconds: 3600,
            },
        ],
    )
}

fn ask(hold: &str, storage: u64, files: u64) -> Ask {
    Ask {
        hold: hold.into(),
        storage,
        files,
        request: false,
    }
}

const T0: u64 = 1_700_000_000_000;

#[test]
fn holds_count_against_cumulative_limits_until_released() {
    let limits = Limits::new(&tier(), "upload");
    let mut s = TenantState::default();
    assert!(matches!(
        s.reserve(&limits, &ask("a", 600, 1), T0, 1000),
        Verdict::Granted(_)
    ));
    let v = s.reserve(&limits, &ask("b", 500, 1), T0, 1000);
    assert_eq!(
        v,
        Verdict::Exceeded {
            metric: Metric::StorageBytes,
            used: 0,
            limit: 1000
        }
    );
    s.release("a", 0);
    assert!(matches!(
        s.reserve(&limits, &ask("b", 500, 1), T0, 1000),
        Verdict::Granted(_)
    ));
    s.commit("b", 400, 1, "free");
    let u = s.usage(&limits.windows, T0);
    assert_eq!((u.storage_bytes, u.file_count, u.held_storage), (400, 1, 0));
    assert_eq!(
        u.windows,
        vec![0, 400],
        "upload window corrected to the real size"
    );
}

#[test]
fn expired_holds_return_by_themselves() {
    let limits = Limits::new(&tier(), "upload");
    let mut s = TenantState::default();
    s.reserve(&limits, &ask("crashed", 1000, 1), T0, 1000);
    assert!(matches!(
        s.reserve(&limits, &ask("x", 1, 1), T0 + 500, 1000),
        Verdict::Exceeded { .. }
    ));
    assert!(matches!(
        s.reserve(&limits, &ask("x", 1, 1), T0 + 1001, 1000),
        Verdict::Granted(_)
    ));
    assert_eq!(s.usage(&limits.windows, T0 + 1001).windows[1], 1);
}

#[test]
fn request_windows_refuse_with_retry_after_and_reset() {
    let limits = Limits::new(&tier(), "list");
    assert_eq!(
        limits.windows.len(),
        1,
        "the upload route's window is not the list route's"
    );
    let mut s = TenantState::default();
    let req = |h: &str| Ask {
        hold: h.into(),
        request: true,
        ..Ask::default()
    };
    let start = T0 - T0 % 60_000;
    let Verdict::Granted(w) = s.reserve(&limits, &req("1"), start + 10_000, 1000) else {
        panic!()
    };
    assert_eq!((w[0].remaining, w[0].reset_secs), (1, 50));
    s.reserve(&limits, &req("2"), start + 10_000, 1000);
    assert_eq!(
        s.reserve(&limits, &req("3"), start + 20_500, 1000),
        Verdict::RateLimited {
            window: limits.windows[0].clone(),
            retry_after_secs: 40
        }
    );
    assert!(matches!(
        s.reserve(&limits, &req("4"), start + 60_000, 1000),
        Verdict::Granted(_)
    ));
}

#[test]
fn deleting_gives_back_the_ledger_size_or_the_reported_one() {
    let mut s = TenantState::default();
    s.commit("h", 300, 1, "free");
    s.commit("h2", 200, 1, "free");
    s.record_object("o1", 300);
    s.record_object("o2", 200);
    assert_eq!(s.free_object("o1", None), 300);
    assert_eq!(s.free_object("o2", Some(50)), 50);
    let u = s.usage(&[], T0);
    assert_eq!((u.storage_bytes, u.file_count), (150, 0));
    s.commit("h3", 10, 1, "free");
    assert_eq!(s.free_object("unknown", Some(10)), 0, "not in the ledger");
    assert_eq!(s.free_object("o1", None), 0, "freed once");
    let u = s.usage(&[], T0);
    assert_eq!((u.storage_bytes, u.file_count), (160, 1));
}

#[test]
fn rate_limit_headers_follow_the_ietf_draft() {
    let t = tier();
    let states = vec![
        WindowState {
            window: t.windows[0].clone(),
            remaining: 1,
            reset_secs: 30,
        },
        WindowState {
            window: t.windows[1].clone(),
            remaining: 100,
            reset_secs: 5,
        },
    ];
    let policy = Limits::new(&t, "upload").policy_header.unwrap();
    let state = rate_limit_state(&states).unwrap();
    assert_eq!(
        policy,
        "\"requests\";q=2;w=60, \"upload_bytes:upload\";q=1500;w=3600;qu=\"content-bytes\""
    );
    assert_eq!(
        state,
        "\"requests\";r=1;t=30, \"upload_bytes:upload\";r=100;t=5"
    );
}
