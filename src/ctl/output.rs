//! Printing results: aligned tables for people, JSON for scripts.
//!
//! Every command builds its result once as a [`Table`] (or a JSON value) and hands it here, so
//! `--output json` is available everywhere without each command formatting twice.

use serde_json::{Map, Value};

use super::args::OutputFormat;

/// Rows with named columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// Column names, lower case; upper-cased for people, keys (spaces → `_`) in JSON.
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column names.
    pub fn new<S: AsRef<str>>(headers: &[S]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.as_ref().to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells print empty.
    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// Columns padded to their widest cell, headers in upper case, numbers right-aligned.
    pub fn render(&self) -> String {
        let cols = self.headers.len();
        fn cell(row: &[String], i: usize) -> &str {
            row.get(i).map(String::as_str).unwrap_or("")
        }
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, w) in widths.iter_mut().enumerate() {
                *w = (*w).max(cell(row, i).chars().count());
            }
        }
        let numeric: Vec<bool> = (0..cols)
            .map(|i| {
                !self.rows.is_empty()
                    && self
                        .rows
                        .iter()
                        .all(|r| cell(r, i).is_empty() || cell(r, i).parse::<f64>().is_ok())
            })
            .collect();
        let line = |cells: Vec<&str>| {
            let mut out = String::new();
            for (i, text) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(text.chars().count());
                let last = i + 1 == cols;
                if numeric[i] {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(text);
                } else {
                    out.push_str(text);
                    if !last {
                        out.push_str(&" ".repeat(pad));
                    }
                }
                if !last {
                    out.push_str("  ");
                }
            }
            out.trim_end().to_string() + "\n"
        };
        let upper: Vec<String> = self.headers.iter().map(|h| h.to_uppercase()).collect();
        let mut out = line(upper.iter().map(String::as_str).collect());
        for row in &self.rows {
            out.push_str(&line((0..cols).map(|i| cell(row, i)).collect()));
        }
        out
    }

    /// An array of objects keyed by column name.
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.rows
                .iter()
                .map(|row| {
                    let mut obj = Map::new();
                    for (i, h) in self.headers.iter().enumerate() {
                        let text = row.get(i).cloned().unwrap_or_default();
                        obj.insert(h.replace(' ', "_"), Value::String(text));
                    }
                    Value::Object(obj)
                })
                .collect(),
        )
    }
}

/// Prints a table in the chosen format.
pub fn print_table(table: &Table, format: OutputFormat) {
    match format {
        OutputFormat::Table => print!("{}", table.render()),
        OutputFormat::Json => print_json(&table.to_json()),
    }
}

/// Prints a value as pretty JSON.
pub fn print_json(value: &Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        // Values built from JSON or strings always serialize; keep a line rather than panic.
        Err(e) => eprintln!("kiwictl: cannot print JSON: {e}"),
    }
}

/// Prints the answer of a mutating call: its JSON as-is, or `message` for people.
pub fn print_done(message: &str, answer: &Value, format: OutputFormat) {
    match format {
        OutputFormat::Table => println!("{message}"),
        OutputFormat::Json => print_json(answer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_numbers_go_right() {
        let mut t = Table::new(&["id", "addr", "lag"]);
        t.push(vec!["1".into(), "10.0.0.1:7380".into(), "0".into()]);
        t.push(vec!["12".into(), "h:1".into(), "1500".into()]);
        assert_eq!(
            t.render(),
            "ID  ADDR            LAG\n 1  10.0.0.1:7380     0\n12  h:1            1500\n"
        );
        assert_eq!(t.to_json()[1]["addr"], "h:1");
    }
}
