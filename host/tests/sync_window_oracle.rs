//! `spec.syncWindows` against ESO's own evaluation: the Go oracle in tests/cron-oracle runs
//! ESO's `isWithinSyncWindow` with the cron parser ESO uses (robfig/cron v3), and every case
//! here must get the same answer from host/src/controller/sync_window.rs: whether the schedule
//! parses, its next firing, and whether the instant is inside a window.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use ampoule::controller::sync_window::Schedule;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

/// A small deterministic generator (xorshift), so a failure names a case that reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// One cron field: a star, a value, a range, a step, a list, a name, or (rarely) something
/// out of range or malformed.
fn field(rng: &mut Rng, min: u64, max: u64, names: &[&str]) -> String {
    let v = |rng: &mut Rng| min + rng.below(max - min + 1);
    match rng.below(12) {
        0 | 1 => "*".into(),
        2 => "?".into(),
        3 => v(rng).to_string(),
        4 => {
            let (a, b) = (v(rng), v(rng));
            format!("{}-{}", a.min(b), a.max(b))
        }
        5 => format!("*/{}", 1 + rng.below(7)),
        6 => format!("{}/{}", v(rng), 1 + rng.below(5)),
        7 => format!("{},{}", v(rng), v(rng)),
        8 if !names.is_empty() => rng.pick(names).into(),
        8 => format!("{}-{}/2", min, max),
        9 => (max + 1 + rng.below(3)).to_string(),
        10 => format!("{}-{}", max, min),
        _ => rng.pick(&["*/0", "1-2-3", "x", "1/2/3", ""]).into(),
    }
}

fn schedule(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => rng
            .pick(&[
                "@yearly",
                "@annually",
                "@monthly",
                "@weekly",
                "@daily",
                "@midnight",
                "@hourly",
                "@every 1h",
                "@every 90m",
                "@every 30s",
                "@every 0s",
                "@every soon",
                "@often",
            ])
            .into(),
        _ => [
            field(rng, 0, 59, &[]),
            field(rng, 0, 23, &[]),
            field(rng, 1, 31, &[]),
            field(rng, 1, 12, &["jan", "FEB", "Mar", "dec"]),
            field(rng, 0, 6, &["sun", "MON", "Fri", "sat"]),
        ]
        .join(" "),
    }
}

#[test]
fn answers_as_eso_does() {
    let fixed = [
        "0 22 * * *",
        "0 22 * * 1-5",
        "*/15 9-17 * * mon-fri",
        "0 0 13 * 5",
        "0 0 13 * *",
        "0 0 30 2 *",
        "0 0 29 2 *",
        "59 23 31 12 *",
        "0 0 * * 0",
        "0 12 1 */3 *",
    ];
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let mut cases: Vec<(String, u64, i64)> = Vec::new();
    let base = "2024-01-01T00:00:00Z"
        .parse::<Timestamp>()
        .unwrap()
        .as_second();
    let span = 6 * 365 * 86400;
    for i in 0..6000 {
        let s = if i < fixed.len() * 20 {
            fixed[i % fixed.len()].to_string()
        } else {
            schedule(&mut rng)
        };
        let duration = match rng.below(4) {
            0 => rng.below(120),
            1 => 60 * rng.below(180),
            2 => 3600 * rng.below(48),
            _ => 86400 * rng.below(40),
        };
        // Mostly anywhere, sometimes on a minute boundary (where windows open and close).
        let mut at = base + i64::try_from(rng.below(span)).unwrap();
        if rng.below(3) == 0 {
            at -= at % 60;
        }
        cases.push((s, duration, at));
    }
    let input = Value::Array(
        cases
            .iter()
            .map(|(s, d, at)| json!({"schedule": s, "duration_s": d, "at": at}))
            .collect(),
    );
    let mut child = Command::new(ground::go_oracle("cron-oracle"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the cron oracle");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the cron oracle failed");
    let answers: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answers.len(), cases.len());
    let (mut parsed, mut inside) = (0, 0);
    for ((s, d, at), want) in cases.iter().zip(&answers) {
        let when = Timestamp::from_second(*at).unwrap();
        let case = format!("schedule {s:?}, duration {d}s, at {when}");
        let ours = Schedule::parse(s);
        assert_eq!(ours.is_ok(), want["ok"] == true, "parses: {case}");
        let Ok(ours) = ours else { continue };
        parsed += 1;
        let next = ours.next(when).map_or(0, |t| t.as_second());
        assert_eq!(next, want["next"].as_i64().unwrap(), "next firing: {case}");
        let within = ours.open_window(Duration::from_secs(*d), when).is_some();
        assert_eq!(within, want["within"] == true, "within: {case}");
        inside += usize::from(within);
    }
    // The cases must exercise all three answers, or the comparison proves little.
    assert!(parsed > 1500, "only {parsed} schedules parsed");
    assert!(
        inside > 300 && inside < parsed,
        "{inside} of {parsed} inside a window"
    );
    assert!(parsed < cases.len(), "no malformed schedule was tried");
}
