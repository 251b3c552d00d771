//! The recursive-descent parser: tokens in, a [`Program`] and its syntax diagnostics out.
//!
//! It never panics and never stops at the first error: a statement that fails to parse is
//! reported, skipped up to the next statement boundary (end of line, `;`, a fact's `.`, or
//! the `}` closing its block), and parsing goes on. Nesting is capped so that hostile input
//! cannot overflow the stack.

mod expression;
mod statement;

use crate::ast::Program;
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::lexer::lex;
use crate::span::Span;
use crate::token::{Token, TokenKind};

/// Deepest nesting of expressions and blocks accepted (each operator of a chain such as
/// `a + b + c` counts as a level, since the tree it builds is that deep): far beyond any
/// real program, and well inside a 2 MiB thread stack for every later pass.
const MAX_DEPTH: usize = 128;

/// Parses a whole program. The program holds every statement that parsed; the diagnostics
/// list everything that did not (lexical errors first).
pub fn parse(source: &str) -> (Program, Vec<Diagnostic>) {
    let (tokens, mut diagnostics) = lex(source);
    let mut parser = Parser::new(tokens);
    let statements = parser.statements(false);
    // A malformed token (an unterminated string, say) usually breaks the rest of its line;
    // the parser's complaints there would only repeat it.
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(source.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |offset: usize| line_starts.partition_point(|&start| start <= offset);
    let lexical_lines: Vec<usize> = diagnostics
        .iter()
        .map(|d| line_of(d.primary_span().start))
        .collect();
    diagnostics.extend(
        parser
            .diagnostics
            .into_iter()
            .filter(|d| !lexical_lines.contains(&line_of(d.primary_span().start))),
    );
    (Program { statements }, diagnostics)
}

/// A parse step failed; its diagnostic has already been recorded.
pub(crate) struct Failed;

pub(crate) type PResult<T> = Result<T, Failed>;

pub(crate) struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    diagnostics: Vec<Diagnostic>,
    /// For each open delimiter, whether line ends inside it are insignificant: true inside
    /// `( )`, `[ ]` and a domain's `{ }`, false inside a block's `{ }`.
    newline_modes: Vec<bool>,
    depth: usize,
}

impl Parser {
    fn new(tokens: Vec<Token>) -> Parser {
        Parser {
            tokens,
            pos: 0,
            diagnostics: Vec::new(),
            newline_modes: Vec::new(),
            depth: 0,
        }
    }

    fn ignoring_newlines(&self) -> bool {
        self.newline_modes.last().copied().unwrap_or(false)
    }

    /// The current token, skipping line ends where they do not count.
    fn peek(&mut self) -> &Token {
        if self.ignoring_newlines() {
            while self.tokens[self.pos].kind == TokenKind::Newline {
                self.pos += 1;
            }
        }
        &self.tokens[self.pos]
    }

    fn peek_kind(&mut self) -> &TokenKind {
        &self.peek().kind
    }

    /// The token after the current one (line ends count here).
    fn peek_second(&mut self) -> &Token {
        self.peek();
        let index = (self.pos + 1).min(self.tokens.len() - 1);
        &self.tokens[index]
    }

    fn at(&mut self, kind: &TokenKind) -> bool {
        self.peek_kind() == kind
    }

    fn at_ident(&mut self, word: &str) -> bool {
        matches!(self.peek_kind(), TokenKind::Ident(name) if name == word)
    }

    fn advance(&mut self) -> Token {
        self.peek();
        let token = self.tokens[self.pos].clone();
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        token
    }

    fn eat(&mut self, kind: &TokenKind) -> Option<Token> {
        if self.at(kind) {
            Some(self.advance())
        } else {
            None
        }
    }

    /// The end of the previous token, for spans that end "here".
    fn previous_end(&self) -> usize {
        if self.pos == 0 {
            0
        } else {
            self.tokens[self.pos - 1].span.end
        }
    }

    fn expect(&mut self, kind: &TokenKind, context: &str) -> PResult<Token> {
        if let Some(token) = self.eat(kind) {
            return Ok(token);
        }
        Err(self.unexpected(&format!("`{kind}` {context}")))
    }

    fn expect_ident(&mut self, context: &str) -> PResult<crate::ast::Name> {
        let token = self.peek().clone();
        if let TokenKind::Ident(text) = token.kind {
            self.advance();
            return Ok(crate::ast::Name {
                text,
                span: token.span,
            });
        }
        Err(self.unexpected(&format!("a name {context}")))
    }

    /// Records "expected …, found …" at the current token.
    fn unexpected(&mut self, expected: &str) -> Failed {
        let token = self.peek().clone();
        let found = token.kind.describe();
        let span = if token.kind == TokenKind::Newline || token.kind == TokenKind::Eof {
            Span::at(self.previous_end())
        } else {
            token.span
        };
        self.diagnostics.push(Diagnostic::error(
            codes::UNEXPECTED_TOKEN,
            format!("expected {expected}, found {found}"),
            span,
            format!("expected {expected}"),
        ));
        Failed
    }

    fn error(&mut self, diagnostic: Diagnostic) -> Failed {
        self.diagnostics.push(diagnostic);
        Failed
    }

    /// Enters one level of nesting, or fails when the program nests absurdly deep.
    fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_DEPTH {
            let span = self.peek().span;
            return Err(self.error(
                Diagnostic::error(
                    codes::TOO_DEEP,
                    "nesting too deep",
                    span,
                    format!("more than {MAX_DEPTH} levels of nesting reached here"),
                )
                .with_help("split the expression into several equations"),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Runs `inner` between an opening token already consumed and its `closing` token, with
    /// line ends ignored or not.
    fn delimited<T>(
        &mut self,
        open: Span,
        closing: TokenKind,
        ignore_newlines: bool,
        inner: impl FnOnce(&mut Parser) -> PResult<T>,
    ) -> PResult<(T, Span)> {
        self.enter()?;
        self.newline_modes.push(ignore_newlines);
        let result = inner(self);
        let result = result.and_then(|value| {
            if let Some(close) = self.eat(&closing) {
                Ok((value, open.to(close.span)))
            } else {
                let token = self.peek().clone();
                let opening = match closing {
                    TokenKind::RParen => "(",
                    TokenKind::RBracket => "[",
                    _ => "{",
                };
                let found = token.kind.describe();
                // A line break between the opening and the stray token usually means the
                // delimiter was never closed on its own line.
                let crossed_line = self.tokens[..self.pos]
                    .iter()
                    .rev()
                    .take_while(|t| t.span.start > open.start)
                    .any(|t| t.kind == TokenKind::Newline);
                let diagnostic = if token.kind == TokenKind::Eof || crossed_line {
                    let mut diagnostic = Diagnostic::error(
                        codes::UNCLOSED_DELIMITER,
                        format!("unclosed `{opening}`"),
                        open,
                        "this delimiter is never closed",
                    )
                    .with_help(format!("add `{closing}`"));
                    if token.kind != TokenKind::Eof {
                        diagnostic = diagnostic.with_secondary(
                            token.span,
                            format!("expected `{closing}` before {found}"),
                        );
                    }
                    diagnostic
                } else {
                    Diagnostic::error(
                        codes::UNEXPECTED_TOKEN,
                        format!("expected `{closing}`, found {found}"),
                        token.span,
                        format!("expected `{closing}` or `,`"),
                    )
                    .with_secondary(open, format!("to close this `{opening}`"))
                };
                Err(self.error(diagnostic))
            }
        });
        self.newline_modes.pop();
        self.leave();
        result
    }

    /// Skips to the next statement boundary after an error.
    fn synchronize(&mut self) {
        let mut depth = 0usize;
        loop {
            let token = &self.tokens[self.pos];
            match token.kind {
                TokenKind::Eof => return,
                TokenKind::LParen | TokenKind::LBracket | TokenKind::LBrace => depth += 1,
                TokenKind::RParen | TokenKind::RBracket => depth = depth.saturating_sub(1),
                TokenKind::RBrace => {
                    if depth == 0 {
                        return;
                    }
                    depth -= 1;
                }
                TokenKind::Semicolon | TokenKind::Dot if depth == 0 => {
                    self.pos += 1;
                    return;
                }
                TokenKind::Newline => {
                    self.pos += 1;
                    if depth == 0 || self.at_statement_keyword() {
                        return;
                    }
                    continue;
                }
                _ => {}
            }
            self.pos += 1;
        }
    }

    /// Whether the raw token at the cursor begins a statement whatever came before.
    fn at_statement_keyword(&self) -> bool {
        matches!(
            self.tokens[self.pos].kind,
            TokenKind::Fn
                | TokenKind::Let
                | TokenKind::Param
                | TokenKind::Domain
                | TokenKind::Minimize
                | TokenKind::For
                | TokenKind::While
                | TokenKind::If
                | TokenKind::Return
        )
    }
}
