//! Keys of `kiwictl top`, mapped to actions. Pure, so the key map is testable and listed once
//! (the help overlay is generated from [`KEYS`]).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    /// Esc closes the help overlay first, and quits only when it is closed.
    CloseHelp,
    NextPane,
    Sort,
    Pause,
}

/// Keys and what they do, for the help overlay and the footer.
pub const KEYS: [(&str, &str); 6] = [
    ("?", "show or hide this help"),
    ("q", "quit (also Esc, Ctrl-C)"),
    ("tab", "next pane (small terminals show one)"),
    ("s", "sort the focused table"),
    ("p", "pause / resume updates"),
    ("Esc", "close help"),
];

/// The action for a key press, if any. `help_open` decides what Esc means.
pub fn action_for(key: &KeyEvent, help_open: bool) -> Option<Action> {
    // Windows reports releases too; act on presses only.
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return matches!(key.code, KeyCode::Char('c') | KeyCode::Char('d')).then_some(Action::Quit);
    }
    match key.code {
        KeyCode::Char('q') | KeyCode::Char('Q') => Some(Action::Quit),
        KeyCode::Esc if help_open => Some(Action::CloseHelp),
        KeyCode::Esc => Some(Action::Quit),
        KeyCode::Char('?') | KeyCode::Char('h') | KeyCode::F(1) => Some(Action::Help),
        KeyCode::Tab | KeyCode::BackTab => Some(Action::NextPane),
        KeyCode::Char('s') => Some(Action::Sort),
        KeyCode::Char('p') | KeyCode::Char(' ') => Some(Action::Pause),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn keys_map_to_actions() {
        let none = KeyModifiers::NONE;
        assert_eq!(
            action_for(&key(KeyCode::Char('q'), none), false),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(&key(KeyCode::Char('c'), KeyModifiers::CONTROL), false),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(&key(KeyCode::Esc, none), true),
            Some(Action::CloseHelp)
        );
        assert_eq!(
            action_for(&key(KeyCode::Esc, none), false),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(&key(KeyCode::Tab, none), false),
            Some(Action::NextPane)
        );
        assert_eq!(action_for(&key(KeyCode::Char('x'), none), false), None);
    }
}
