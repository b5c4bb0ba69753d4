//! `config_file`: the Redis-style configuration file reader, `CONFIG GET`/`SET` of each option,
//! and `CONFIG REWRITE`.

use kiwi::config::{all_options, Config};

/// The file name errors must carry.
const FILE: &str = "fuzz.conf";

/// Reads the input (as UTF-8, invalid sequences replaced, as `read_to_string` would refuse them)
/// as a configuration file. Checked: no panic; an error names the file and a line that exists,
/// and a line-level error points at a line holding a setting; a file that reads cleanly gives a
/// configuration that passes validation, whose every option's `CONFIG GET` text is accepted back
/// by `CONFIG SET` unchanged, and whose `CONFIG REWRITE` of the same file reads back to the
/// same configuration.
pub fn config_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.lines().collect();
    let mut config = Config::default();
    if let Err(err) = config.apply_text(&text, FILE) {
        let shown = err.to_string();
        assert!(
            err.line <= lines.len(),
            "error names line {} of {}: {shown}",
            err.line,
            lines.len()
        );
        if err.line > 0 {
            assert!(
                shown.starts_with(&format!("{FILE}:{}: ", err.line)),
                "error does not lead with file and line: {shown}"
            );
            let named = lines[err.line - 1].trim();
            assert!(
                !named.is_empty() && !named.starts_with('#'),
                "error names blank or comment line {}: {shown}",
                err.line
            );
        } else {
            assert!(
                shown.starts_with(&format!("{FILE}: ")),
                "error does not lead with the file: {shown}"
            );
        }
        return;
    }
    if let Err((key, message)) = config.validate() {
        panic!("the file was accepted but does not validate: {key}: {message}");
    }
    for spec in all_options() {
        let shown = spec.get(&config);
        let mut again = config.clone();
        if let Err(message) = spec.set(&mut again, &shown) {
            panic!(
                "CONFIG SET {} {shown:?} refuses what CONFIG GET shows: {message}",
                spec.name
            );
        }
        assert!(
            again == config,
            "CONFIG SET {} {shown:?} changes the configuration",
            spec.name
        );
    }
    let rewritten = config.rewritten(&text);
    let mut reread = Config::default();
    if let Err(err) = reread.apply_text(&rewritten, FILE) {
        panic!("CONFIG REWRITE wrote a file that does not read back: {err}\n{rewritten}");
    }
    assert!(
        reread == config,
        "CONFIG REWRITE's file reads back differently:\n{rewritten}"
    );
}
