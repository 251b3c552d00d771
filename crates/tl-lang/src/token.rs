//! The tokens of the language: what the lexer produces and the parser consumes.

use crate::span::Span;
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    /// A name; primes belong to it (`p'`, `x''`).
    Ident(String),
    Int(i64),
    Float(f64),
    Str(String),

    // Keywords. `in`, `with`, `steps`, `max=`… are contextual and stay identifiers.
    Fn,
    Let,
    If,
    Else,
    For,
    While,
    Return,
    Param,
    Domain,
    Minimize,
    True,
    False,

    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Colon,
    Semicolon,
    Dot,
    DotDot,
    Question,
    /// `=`
    Assign,
    /// `+=`
    PlusAssign,
    /// `<-`, `←` or `:-`: a Datalog rule's "if".
    Arrow,
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    Newline,
    Eof,
}

impl TokenKind {
    /// The keyword spelled `word`, if it is one.
    pub fn keyword(word: &str) -> Option<TokenKind> {
        Some(match word {
            "fn" => TokenKind::Fn,
            "let" => TokenKind::Let,
            "if" => TokenKind::If,
            "else" => TokenKind::Else,
            "for" => TokenKind::For,
            "while" => TokenKind::While,
            "return" => TokenKind::Return,
            "param" => TokenKind::Param,
            "domain" => TokenKind::Domain,
            "minimize" => TokenKind::Minimize,
            "true" => TokenKind::True,
            "false" => TokenKind::False,
            _ => return None,
        })
    }

    /// How the token reads in "expected …, found …" messages.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Ident(name) => format!("`{name}`"),
            TokenKind::Int(v) => format!("number `{v}`"),
            TokenKind::Float(v) => format!("number `{v}`"),
            TokenKind::Str(_) => "a string".into(),
            TokenKind::Newline => "end of line".into(),
            TokenKind::Eof => "end of input".into(),
            other => format!("`{other}`"),
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            TokenKind::Ident(name) => return write!(f, "{name}"),
            TokenKind::Int(v) => return write!(f, "{v}"),
            TokenKind::Float(v) => return write!(f, "{v}"),
            TokenKind::Str(s) => return write!(f, "{s:?}"),
            TokenKind::Fn => "fn",
            TokenKind::Let => "let",
            TokenKind::If => "if",
            TokenKind::Else => "else",
            TokenKind::For => "for",
            TokenKind::While => "while",
            TokenKind::Return => "return",
            TokenKind::Param => "param",
            TokenKind::Domain => "domain",
            TokenKind::Minimize => "minimize",
            TokenKind::True => "true",
            TokenKind::False => "false",
            TokenKind::LParen => "(",
            TokenKind::RParen => ")",
            TokenKind::LBracket => "[",
            TokenKind::RBracket => "]",
            TokenKind::LBrace => "{",
            TokenKind::RBrace => "}",
            TokenKind::Comma => ",",
            TokenKind::Colon => ":",
            TokenKind::Semicolon => ";",
            TokenKind::Dot => ".",
            TokenKind::DotDot => "..",
            TokenKind::Question => "?",
            TokenKind::Assign => "=",
            TokenKind::PlusAssign => "+=",
            TokenKind::Arrow => "<-",
            TokenKind::Plus => "+",
            TokenKind::Minus => "-",
            TokenKind::Star => "*",
            TokenKind::Slash => "/",
            TokenKind::Caret => "^",
            TokenKind::EqEq => "==",
            TokenKind::NotEq => "!=",
            TokenKind::Lt => "<",
            TokenKind::Le => "<=",
            TokenKind::Gt => ">",
            TokenKind::Ge => ">=",
            TokenKind::AndAnd => "&&",
            TokenKind::OrOr => "||",
            TokenKind::Bang => "!",
            TokenKind::Newline => "\\n",
            TokenKind::Eof => "<eof>",
        };
        f.write_str(text)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
    /// Whether whitespace or a comment separates this token from the previous one. Field
    /// access (`w.gate`) needs the dot glued to both names; a fact's final `.` does not.
    pub space_before: bool,
}
