//! A writer for the Prometheus text exposition format (version 0.0.4).
//!
//! Hand-written because the format is small and a library would add a registry we do not need:
//! metrics are rendered from a snapshot on each scrape, not kept as live objects. The writer
//! enforces the conventions `promtool check metrics` lints for: a family's type follows from its
//! name (`_total` means counter, anything else a gauge; histograms are explicit), every family
//! has HELP and TYPE lines, and a family without samples is not written at all.

use std::fmt::Write as _;

/// Label pairs of one sample.
pub type Labels<'a> = Vec<(&'a str, String)>;

/// One sample: its labels and value.
pub type Sample<'a> = (Labels<'a>, f64);

/// The text being written, one metric family after another.
#[derive(Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// The finished text.
    pub fn finish(self) -> String {
        self.out
    }

    /// A counter (`…_total`) or gauge family, unless it has no samples.
    pub fn family(&mut self, name: &str, help: &str, samples: &[Sample<'_>]) {
        if samples.is_empty() {
            return;
        }
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        self.header(name, kind, help);
        for (labels, value) in samples {
            self.sample(name, labels, *value);
        }
    }

    /// A family of one unlabelled sample.
    pub fn single(&mut self, name: &str, help: &str, value: f64) {
        self.family(name, help, &[(Vec::new(), value)]);
    }

    /// A histogram family: per label set, cumulative bucket counts by upper bound (seconds),
    /// the overflow count, and the sum of observed values.
    pub fn histogram(&mut self, name: &str, help: &str, series: &[HistogramSeries<'_>]) {
        if series.is_empty() {
            return;
        }
        self.header(name, "histogram", help);
        let (bucket, sum, count) = (
            format!("{name}_bucket"),
            format!("{name}_sum"),
            format!("{name}_count"),
        );
        for s in series {
            let mut cumulative = 0;
            let bounds = s.buckets.iter().map(|(le, n)| (number(*le), *n));
            let all = bounds.chain(std::iter::once(("+Inf".to_string(), s.overflow)));
            for (le, n) in all {
                cumulative += n;
                let mut labels = s.labels.clone();
                labels.push(("le", le));
                self.sample(&bucket, &labels, cumulative as f64);
            }
            self.sample(&sum, &s.labels, s.sum);
            self.sample(&count, &s.labels, cumulative as f64);
        }
    }

    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, String)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{key}=\"{}\"", escape(val));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }
}

/// One labelled series of a histogram.
pub struct HistogramSeries<'a> {
    pub labels: Labels<'a>,
    /// (upper bound, samples in this bucket alone), ascending bounds.
    pub buckets: Vec<(f64, u64)>,
    /// Samples above the last bound.
    pub overflow: u64,
    pub sum: f64,
}

/// One label pair.
pub fn label(key: &str, value: impl ToString) -> Labels<'_> {
    vec![(key, value.to_string())]
}

/// Label values escape backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Integers print without a fraction, infinities as the format spells them.
fn number(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_labels_follow_the_text_format() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.000001), "0.000001");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn families_take_their_type_from_the_name_and_skip_when_empty() {
        let mut e = Exposition::default();
        e.family("kiwi_x_total", "X.", &[]);
        e.family("kiwi_x_total", "X.", &[(label("db", 0), 2.0)]);
        e.single("kiwi_y_bytes", "Y.", 1.5);
        e.histogram(
            "kiwi_z_seconds",
            "Z.",
            &[HistogramSeries {
                labels: label("command", "get"),
                buckets: vec![(0.5, 1), (1.0, 2)],
                overflow: 1,
                sum: 4.0,
            }],
        );
        assert_eq!(
            e.finish(),
            "# HELP kiwi_x_total X.\n# TYPE kiwi_x_total counter\nkiwi_x_total{db=\"0\"} 2\n\
             # HELP kiwi_y_bytes Y.\n# TYPE kiwi_y_bytes gauge\nkiwi_y_bytes 1.5\n\
             # HELP kiwi_z_seconds Z.\n# TYPE kiwi_z_seconds histogram\n\
             kiwi_z_seconds_bucket{command=\"get\",le=\"0.5\"} 1\n\
             kiwi_z_seconds_bucket{command=\"get\",le=\"1\"} 3\n\
             kiwi_z_seconds_bucket{command=\"get\",le=\"+Inf\"} 4\n\
             kiwi_z_seconds_sum{command=\"get\"} 4\n\
             kiwi_z_seconds_count{command=\"get\"} 4\n"
        );
    }
}
