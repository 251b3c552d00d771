//! Splits program text into tokens, collecting every malformed piece as a diagnostic and
//! carrying on, so that one typo does not hide the errors after it.

use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::token::{Token, TokenKind};

/// Tokens of `source` (ending with `Eof`) and the diagnostics of the malformed parts.
pub fn lex(source: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lexer = Lexer {
        source,
        pos: 0,
        tokens: Vec::new(),
        diagnostics: Vec::new(),
        space_before: true,
    };
    lexer.run();
    (lexer.tokens, lexer.diagnostics)
}

struct Lexer<'a> {
    source: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    diagnostics: Vec<Diagnostic>,
    space_before: bool,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.source[self.pos..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        let mut chars = self.source[self.pos..].chars();
        chars.next();
        chars.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token {
            kind,
            span: Span::new(start, self.pos),
            space_before: self.space_before,
        });
        self.space_before = false;
    }

    fn run(&mut self) {
        while let Some(c) = self.peek() {
            let start = self.pos;
            match c {
                '\n' => {
                    self.bump();
                    self.push(TokenKind::Newline, start);
                    self.space_before = true;
                }
                c if c.is_whitespace() => {
                    self.bump();
                    self.space_before = true;
                }
                '/' if self.peek_second() == Some('/') => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.bump();
                    }
                    self.space_before = true;
                }
                '/' if self.peek_second() == Some('*') => self.block_comment(),
                '"' => self.string(),
                c if c.is_ascii_digit() => self.number(),
                c if c.is_alphabetic() || c == '_' => self.ident(),
                _ => self.punctuation(c),
            }
        }
        let end = self.source.len();
        self.tokens.push(Token {
            kind: TokenKind::Eof,
            span: Span::at(end),
            space_before: true,
        });
    }

    /// `/* … */`, nested, so that commenting out a block that holds a comment works.
    fn block_comment(&mut self) {
        let start = self.pos;
        self.pos += 2;
        let mut depth = 1usize;
        while depth > 0 {
            let rest = &self.source[self.pos..];
            if rest.starts_with("*/") {
                self.pos += 2;
                depth -= 1;
            } else if rest.starts_with("/*") {
                self.pos += 2;
                depth += 1;
            } else if self.bump().is_none() {
                self.diagnostics.push(
                    Diagnostic::error(
                        codes::UNTERMINATED_COMMENT,
                        "unterminated block comment",
                        Span::new(start, start + 2),
                        "this comment is never closed",
                    )
                    .with_help("close it with `*/`"),
                );
                return;
            }
        }
        self.space_before = true;
    }

    fn string(&mut self) {
        let start = self.pos;
        self.bump();
        let mut value = String::new();
        loop {
            let escape_start = self.pos;
            match self.bump() {
                Some('"') => break,
                None | Some('\n') => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            codes::UNTERMINATED_STRING,
                            "unterminated string",
                            Span::new(start, escape_start),
                            "this string has no closing `\"`",
                        )
                        .with_help("strings end on the line they start on"),
                    );
                    if self.source[escape_start..].starts_with('\n') {
                        self.pos = escape_start;
                    }
                    break;
                }
                Some('\\') => match self.bump() {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some('r') => value.push('\r'),
                    Some('0') => value.push('\0'),
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    other => {
                        self.diagnostics.push(
                            Diagnostic::error(
                                codes::UNKNOWN_ESCAPE,
                                "unknown escape sequence in string",
                                Span::new(escape_start, self.pos),
                                "not a known escape",
                            )
                            .with_help(r#"the escapes are \n \t \r \0 \\ and \""#),
                        );
                        if other == Some('\n') {
                            self.pos -= 1;
                        }
                    }
                },
                Some(c) => value.push(c),
            }
        }
        self.push(TokenKind::Str(value), start);
    }

    /// Integers and decimals. `0..n` is an integer and a range, never `0.` and `.n`.
    fn number(&mut self) {
        let start = self.pos;
        self.eat_digits();
        let mut is_float = false;
        if self.peek() == Some('.') && self.peek_second().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            self.eat_digits();
            is_float = true;
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let mark = self.pos;
            self.bump();
            if matches!(self.peek(), Some('+' | '-')) {
                self.bump();
            }
            if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.eat_digits();
                is_float = true;
            } else {
                self.diagnostics.push(
                    Diagnostic::error(
                        codes::MALFORMED_NUMBER,
                        "malformed number",
                        Span::new(start, self.pos),
                        "the exponent has no digits",
                    )
                    .with_help("write an exponent as `1e-3` or `2.5E4`"),
                );
                self.pos = mark.max(self.pos);
            }
        }
        let number_end = self.pos;
        // A name glued to a number (`2x`) is a typo, not a product: say so.
        if self.peek().is_some_and(|c| c.is_alphabetic() || c == '_') {
            let suffix_start = self.pos;
            while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                self.bump();
            }
            self.diagnostics.push(
                Diagnostic::error(
                    codes::MALFORMED_NUMBER,
                    "malformed number",
                    Span::new(start, self.pos),
                    "a number cannot run into a name",
                )
                .with_secondary(Span::new(suffix_start, self.pos), "this suffix")
                .with_help("put a space or `*` between a number and a name: `2 x`"),
            );
        }
        let text: String = self.source[start..number_end]
            .chars()
            .filter(|&c| c != '_')
            .collect();
        let kind = if is_float {
            TokenKind::Float(text.parse().unwrap_or(f64::NAN))
        } else {
            let digits: String = text.chars().take_while(|c| c.is_ascii_digit()).collect();
            // Integers too large for i64 keep their value as a float; index positions will
            // reject them with a precise message.
            match digits.parse::<i64>() {
                Ok(v) => TokenKind::Int(v),
                Err(_) => TokenKind::Float(digits.parse().unwrap_or(f64::INFINITY)),
            }
        };
        self.push(kind, start);
    }

    fn eat_digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '_') {
            self.bump();
        }
    }

    fn ident(&mut self) {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.bump();
        }
        while self.peek() == Some('\'') {
            self.bump();
        }
        let word = &self.source[start..self.pos];
        let kind = TokenKind::keyword(word).unwrap_or_else(|| TokenKind::Ident(word.to_string()));
        self.push(kind, start);
    }

    fn punctuation(&mut self, c: char) {
        let start = self.pos;
        self.bump();
        let next = self.peek();
        let two = |lexer: &mut Self, kind: TokenKind| {
            lexer.bump();
            kind
        };
        let kind = match (c, next) {
            ('(', _) => TokenKind::LParen,
            (')', _) => TokenKind::RParen,
            ('[', _) => TokenKind::LBracket,
            (']', _) => TokenKind::RBracket,
            ('{', _) => TokenKind::LBrace,
            ('}', _) => TokenKind::RBrace,
            (',', _) => TokenKind::Comma,
            (';', _) => TokenKind::Semicolon,
            ('?', _) => TokenKind::Question,
            ('^', _) => TokenKind::Caret,
            ('*', _) => TokenKind::Star,
            ('/', _) => TokenKind::Slash,
            ('←', _) => TokenKind::Arrow,
            ('.', Some('.')) => two(self, TokenKind::DotDot),
            ('.', _) => TokenKind::Dot,
            (':', Some('-')) => two(self, TokenKind::Arrow),
            (':', _) => TokenKind::Colon,
            ('+', Some('=')) => two(self, TokenKind::PlusAssign),
            ('+', _) => TokenKind::Plus,
            ('-', _) => TokenKind::Minus,
            ('=', Some('=')) => two(self, TokenKind::EqEq),
            ('=', _) => TokenKind::Assign,
            ('!', Some('=')) => two(self, TokenKind::NotEq),
            ('!', _) => TokenKind::Bang,
            ('<', Some('-')) => two(self, TokenKind::Arrow),
            ('<', Some('=')) => two(self, TokenKind::Le),
            ('<', _) => TokenKind::Lt,
            ('>', Some('=')) => two(self, TokenKind::Ge),
            ('>', _) => TokenKind::Gt,
            ('&', Some('&')) => two(self, TokenKind::AndAnd),
            ('|', Some('|')) => two(self, TokenKind::OrOr),
            _ => {
                let span = Span::new(start, self.pos);
                let mut diagnostic = Diagnostic::error(
                    codes::UNEXPECTED_CHARACTER,
                    format!("unexpected character `{}`", c.escape_debug()),
                    span,
                    "not part of the language",
                );
                if c == '\'' {
                    diagnostic = diagnostic.with_help(
                        "a prime belongs right after a name, as in `p'`; strings use `\"`",
                    );
                }
                self.diagnostics.push(diagnostic);
                self.space_before = true;
                return;
            }
        };
        self.push(kind, start);
    }
}
