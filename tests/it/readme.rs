//! The README's examples run: every fenced block is marked `run` or `norun` after its language; the `run` blocks
//! of language `sh` run in order in one bash process (as a user would type them into one terminal) in an empty
//! directory, with the `tabsnap` cargo built first on the PATH; `console` blocks run each `$ command` and
//! compare what it prints with the lines below it.

use std::path::Path;
use std::process::Command;

const README: &str = include_str!("../../README.md");

/// A fenced block: the line of its opening fence, its language, its other marks, its text.
struct Block {
    line: usize,
    lang: String,
    marks: Vec<String>,
    body: String,
}

fn blocks() -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, l) in README.lines().enumerate() {
        match (&mut open, l.strip_prefix("```")) {
            (None, Some(info)) => {
                let mut words = info.split_whitespace().map(str::to_owned);
                let lang = words.next().unwrap_or_default();
                open = Some(Block { line: i + 1, lang, marks: words.collect(), body: String::new() });
            }
            (Some(_), Some("")) => out.push(open.take().unwrap()),
            (Some(b), _) => {
                b.body.push_str(l);
                b.body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "README.md: a fenced block is not closed");
    out
}

fn runs(b: &Block) -> bool {
    b.marks.iter().any(|m| m == "run")
}

#[test]
fn every_readme_block_is_marked_run_or_norun() {
    let blocks = blocks();
    let bad: Vec<String> = blocks
        .iter()
        .filter(|b| {
            let marks = b.marks.iter().filter(|m| *m == "run" || *m == "norun").count();
            marks != 1 || (runs(b) && b.lang != "sh" && b.lang != "console")
        })
        .map(|b| format!("line {}: ```{} {}", b.line, b.lang, b.marks.join(" ")))
        .collect();
    assert!(
        bad.is_empty(),
        "README.md blocks must be marked `run` (sh or console) or `norun` after the language: {bad:#?}"
    );
    assert!(blocks.iter().filter(|b| runs(b)).count() >= 8, "the README's walk-through is not marked runnable");
}

fn path_with_tabsnap() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_tabsnap")).parent().unwrap().display().to_string();
    format!("{bin}:{}", std::env::var("PATH").unwrap_or_default())
}

fn shell(dir: &Path) -> Command {
    let mut c = Command::new("bash");
    c.current_dir(dir).env("PATH", path_with_tabsnap());
    for var in ["TABSNAP_DATA", "TABSNAP_STATE", "TABSNAP_FAIL_NODE"] {
        c.env_remove(var);
    }
    c
}

#[test]
fn the_readme_shell_blocks_run_in_order_in_one_shell() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().join(".readme-block");
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let mut script = String::from("set -eo pipefail\n");
    let mut lines = Vec::new();
    for b in blocks().iter().filter(|b| runs(b) && b.lang == "sh") {
        script.push_str(&format!(
            "echo {} > '{}'\necho '==> README.md line {}' >&2\n",
            b.line,
            marker.display(),
            b.line
        ));
        script.push_str(&b.body);
        lines.push(b.line);
    }
    let out = shell(&work).arg("-c").arg(&script).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        let line = std::fs::read_to_string(&marker).unwrap_or_default();
        panic!("README.md: the block at line {} failed ({}):\n{text}", line.trim(), out.status);
    }
    assert!(lines.len() >= 7, "{lines:?}");
    // What the walk-through promises, seen from outside.
    assert!(text.contains("BACKUP nightly") && text.contains("FINISHED"), "{text}");
    assert!(work.join("data/sales/customers_restored").is_dir() && work.join("restored/sales/orders").is_dir());
}

#[test]
fn the_readme_console_examples_print_what_they_show() {
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for b in blocks().iter().filter(|b| runs(b) && b.lang == "console") {
        let mut cases: Vec<(String, Vec<&str>)> = Vec::new();
        for l in b.body.lines() {
            match l.strip_prefix("$ ") {
                Some(cmd) => cases.push((cmd.to_owned(), Vec::new())),
                None => cases.last_mut().unwrap_or_else(|| panic!("line {}: output before a `$ `", b.line)).1.push(l),
            }
        }
        for (cmd, want) in cases {
            let out = shell(tmp.path()).arg("-c").arg(&cmd).output().unwrap();
            let got = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            let got: Vec<&str> = got.lines().map(str::trim_end).collect();
            let want: Vec<&str> = want.iter().map(|l| l.trim_end()).collect();
            assert_eq!(got, want, "README.md line {}: `{cmd}` prints otherwise", b.line);
            checked += 1;
        }
    }
    assert!(checked >= 1);
}
