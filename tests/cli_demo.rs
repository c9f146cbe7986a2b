//! `syncdesk demo` runs the engine on the bundled inspection and tells it truthfully.

use assert_cmd::Command;

#[test]
fn demo_merges_the_bundled_inspection_and_names_the_one_conflict() {
    let out = Command::cargo_bin("syncdesk")
        .unwrap()
        .arg("demo")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1 in conflict: 17 paths"), "{text}");
    assert!(
        text.contains("/inspected_at: the same instant"),
        "time zones are not a conflict: {text}"
    );
    assert!(text.contains("/temperature: 21 and 21.0"), "{text}");
    assert!(text.contains("/notes is a genuine conflict"), "{text}");
    assert!(
        text.contains("{+ Customer asks for a call back.+}"),
        "word diff of the server side: {text}"
    );
    assert!(!text.contains('\x1b'), "no colour when piped");
}
