//! Turns diagnostics into text with the offending source lines and carets (via `ariadne`).
//!
//! The language never decides about terminals: the caller says whether to use colour.

use crate::diagnostic::{Diagnostic, Severity};
use crate::span::Span;
use ariadne::{CharSet, Config, IndexType, Label, Report, ReportKind, Source};

/// How to render: colour is the CLI's decision (a terminal, `NO_COLOR`, a flag).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    pub color: bool,
    /// ASCII box drawing instead of Unicode, for terminals that lack it.
    pub ascii: bool,
}

/// Renders one diagnostic against the program text `source`, named `source_name` in the
/// report header (a file name, `<repl>`).
pub fn render(
    diagnostic: &Diagnostic,
    source_name: &str,
    source: &str,
    options: RenderOptions,
) -> String {
    let name = source_name.to_string();
    let kind = match diagnostic.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let config = Config::default()
        .with_color(options.color)
        .with_index_type(IndexType::Byte)
        .with_char_set(if options.ascii {
            CharSet::Ascii
        } else {
            CharSet::Unicode
        });
    let primary = clamp(diagnostic.primary_span(), source);
    let mut report = Report::build(kind, (name.clone(), primary.range()))
        .with_code(diagnostic.code)
        .with_message(&diagnostic.message)
        .with_config(config);
    // Labels go in source order: ariadne then shows them in one listing. (Explicit label
    // orders would split the listing, and the report's header already names the primary
    // location.)
    let mut labels: Vec<_> = diagnostic.labels.iter().collect();
    labels.sort_by_key(|label| (label.span.start, !label.primary));
    for label in labels {
        let span = clamp(label.span, source);
        let mut ariadne_label = Label::new((name.clone(), span.range()));
        if !label.message.is_empty() {
            ariadne_label = ariadne_label.with_message(&label.message);
        }
        report = report.with_label(ariadne_label);
    }
    if let Some(help) = &diagnostic.help {
        report = report.with_help(help);
    }
    let mut out = Vec::new();
    let written = report
        .finish()
        .write((name.clone(), Source::from(source)), &mut out);
    match written {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        // Writing into a Vec cannot fail on I/O; keep a readable fallback all the same.
        Err(_) => format!("{diagnostic}\n"),
    }
}

/// Renders several diagnostics, one after another.
pub fn render_all(
    diagnostics: &[Diagnostic],
    source_name: &str,
    source: &str,
    options: RenderOptions,
) -> String {
    diagnostics
        .iter()
        .map(|d| render(d, source_name, source, options))
        .collect()
}

/// Keeps a span inside the text and on character boundaries, so that no label can make the
/// renderer index out of range.
fn clamp(span: Span, source: &str) -> Span {
    let mut start = span.start.min(source.len());
    let mut end = span.end.min(source.len()).max(start);
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    while !source.is_char_boundary(end) {
        end += 1;
    }
    Span::new(start, end)
}
