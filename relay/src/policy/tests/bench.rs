//! A micro-benchmark of `decide` on a policy of realistic size.

use super::*;

/// `cargo test -p sallyport-relay --release policy::tests::bench -- --ignored --nocapture`
#[test]
#[ignore = "micro-benchmark; run by hand"]
fn bench_decisions() {
    use std::fmt::Write;
    use std::hint::black_box;
    use std::time::Instant;

    // 50 roles × (10 allow + 3 deny), 100 group bindings, 50 user bindings.
    let mut text = String::new();
    for r in 0..50 {
        let allow: Vec<String> = (0..10).map(|i| format!("\"srv{r}/tool{i}_*\"")).collect();
        let _ = writeln!(
            text,
            "[[role]]\nname = \"role{r}\"\nallow = [{}, \"shared/get_*\"]\ndeny = [\"srv{r}/drop_*\", \"shared/get_secret?\", \"*/admin_*\"]\nrate = \"60/min\"",
            allow.join(", ")
        );
    }
    for b in 0..100 {
        let _ = writeln!(
            text,
            "[[binding]]\nrole = \"role{}\"\ngroups = [\"group{b}\"]",
            b % 50
        );
    }
    for b in 0..50 {
        let _ = writeln!(
            text,
            "[[binding]]\nrole = \"role{b}\"\nusers = [\"user{b}\"]\nagents = [\"claude\"]"
        );
    }
    let policy = Policy::from_toml_str(&text).expect("valid");
    let groups: Vec<String> = (0..5).map(|g| format!("group{}", g * 7)).collect();
    let subject = Subject {
        user: Some("user3"),
        groups: &groups,
        agent: Some("claude"),
    };
    let tools: Vec<String> = (0..200).map(|i| format!("get_item{i}")).collect();
    let (shared, other) = (server("shared"), server("srv49"));
    let n = 1_000_000;
    let run = |label: &str, f: &mut dyn FnMut(usize) -> bool| {
        let start = Instant::now();
        let mut allowed = 0usize;
        for i in 0..n {
            allowed += usize::from(black_box(f(i)));
        }
        let ns = start.elapsed().as_nanos() as f64 / n as f64;
        println!("{label}: {ns:.0} ns/decision ({allowed} allowed of {n})");
    };
    run("decide, allowed (6 roles)", &mut |i| {
        policy
            .decide(&subject, &shared, Target::Tool(&tools[i % 200]))
            .allowed
    });
    run("decide, denied without match", &mut |i| {
        policy
            .decide(&subject, &other, Target::Tool(&tools[i % 200]))
            .allowed
    });
    let caller = policy.caller(&subject);
    run("caller.allows, allowed (list filtering)", &mut |i| {
        caller.allows(&shared, Target::Tool(&tools[i % 200]))
    });
    run("caller.allows, denied without match", &mut |i| {
        caller.allows(&other, Target::Tool(&tools[i % 200]))
    });
    run("allows, denied without match", &mut |i| {
        policy.allows(&subject, &other, Target::Tool(&tools[i % 200]))
    });
}
