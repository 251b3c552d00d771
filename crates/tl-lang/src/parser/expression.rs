//! Expressions, by precedence from loosest to tightest:
//! `||`, `&&`, comparisons, `+ -`, `* /`, unary `- !`, juxtaposition (a join), `^`, and the
//! primaries (numbers, strings, lists, tensors with indices, calls, parentheses).

use super::{PResult, Parser};
use crate::ast::*;
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::token::TokenKind;

impl Parser {
    pub(crate) fn expression(&mut self) -> PResult<Expr> {
        self.enter()?;
        let result = self.or_expression();
        self.leave();
        result
    }

    fn binary_level(
        &mut self,
        operators: &[(TokenKind, BinaryOp)],
        next: fn(&mut Parser) -> PResult<Expr>,
        chain: bool,
    ) -> PResult<Expr> {
        let mut lhs = next(self)?;
        let mut levels = 0;
        let result = loop {
            let kind = self.peek_kind().clone();
            let Some((_, op)) = operators.iter().find(|(k, _)| *k == kind) else {
                break Ok(lhs);
            };
            let op = *op;
            if let Err(failed) = self.enter() {
                break Err(failed);
            }
            levels += 1;
            self.advance();
            let rhs = match next(self) {
                Ok(rhs) => rhs,
                Err(failed) => break Err(failed),
            };
            let span = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            };
            if !chain {
                break Ok(lhs);
            }
        };
        for _ in 0..levels {
            self.leave();
        }
        result
    }

    fn or_expression(&mut self) -> PResult<Expr> {
        self.binary_level(
            &[(TokenKind::OrOr, BinaryOp::Or)],
            Parser::and_expression,
            true,
        )
    }

    fn and_expression(&mut self) -> PResult<Expr> {
        self.binary_level(
            &[(TokenKind::AndAnd, BinaryOp::And)],
            Parser::comparison,
            true,
        )
    }

    /// Comparisons do not chain: `a < b < c` is an error, not `(a < b) < c`.
    fn comparison(&mut self) -> PResult<Expr> {
        self.binary_level(
            &[
                (TokenKind::EqEq, BinaryOp::Eq),
                (TokenKind::NotEq, BinaryOp::Ne),
                (TokenKind::Lt, BinaryOp::Lt),
                (TokenKind::Le, BinaryOp::Le),
                (TokenKind::Gt, BinaryOp::Gt),
                (TokenKind::Ge, BinaryOp::Ge),
            ],
            Parser::additive,
            false,
        )
    }

    fn additive(&mut self) -> PResult<Expr> {
        self.binary_level(
            &[
                (TokenKind::Plus, BinaryOp::Add),
                (TokenKind::Minus, BinaryOp::Sub),
            ],
            Parser::multiplicative,
            true,
        )
    }

    fn multiplicative(&mut self) -> PResult<Expr> {
        self.binary_level(
            &[
                (TokenKind::Star, BinaryOp::Mul),
                (TokenKind::Slash, BinaryOp::Div),
            ],
            Parser::unary,
            true,
        )
    }

    fn unary(&mut self) -> PResult<Expr> {
        let op = match self.peek_kind() {
            TokenKind::Minus => UnaryOp::Neg,
            TokenKind::Bang => UnaryOp::Not,
            _ => return self.join(),
        };
        let start = self.advance().span;
        self.enter()?;
        let operand = self.unary();
        self.leave();
        let operand = operand?;
        let span = start.to(operand.span);
        Ok(Expr {
            kind: ExprKind::Unary {
                op,
                operand: Box::new(operand),
            },
            span,
        })
    }

    /// Juxtaposition: factors written side by side multiply (`W[i, j] X[j]`). A factor
    /// starts with a name, a number or `(`; a line end stops the join outside brackets.
    fn join(&mut self) -> PResult<Expr> {
        let first = self.power()?;
        let mut factors = vec![first];
        while self.starts_factor() {
            factors.push(self.power()?);
        }
        if factors.len() == 1 {
            return Ok(factors.pop().unwrap_or(Expr {
                kind: ExprKind::Error,
                span: Span::default(),
            }));
        }
        let span = factors[0].span.to(factors[factors.len() - 1].span);
        Ok(Expr {
            kind: ExprKind::Join(factors),
            span,
        })
    }

    fn starts_factor(&mut self) -> bool {
        let second_is_assign = self.peek_second().kind == TokenKind::Assign;
        match self.peek_kind() {
            // `max=`, `min=`, `avg=` after a left-hand side are assignments, not factors.
            TokenKind::Ident(word) => {
                !(matches!(
                    word.as_str(),
                    "max" | "min" | "avg" | "with" | "in" | "steps"
                ) && (second_is_assign || word == "with" || word == "in" || word == "steps"))
            }
            TokenKind::Int(_) | TokenKind::Float(_) | TokenKind::LParen => true,
            _ => false,
        }
    }

    /// `base ^ exponent`, right-associative; the exponent may carry a sign (`x ^ -1`).
    fn power(&mut self) -> PResult<Expr> {
        let base = self.postfix_expression()?;
        if self.eat(&TokenKind::Caret).is_none() {
            return Ok(base);
        }
        self.enter()?;
        let exponent = if self.at(&TokenKind::Minus) {
            self.unary()
        } else {
            self.power()
        };
        self.leave();
        let exponent = exponent?;
        let span = base.span.to(exponent.span);
        Ok(Expr {
            kind: ExprKind::Binary {
                op: BinaryOp::Pow,
                lhs: Box::new(base),
                rhs: Box::new(exponent),
            },
            span,
        })
    }

    /// A primary; names here may take indices or call arguments.
    pub(crate) fn postfix_expression(&mut self) -> PResult<Expr> {
        self.primary()
    }

    pub(crate) fn primary(&mut self) -> PResult<Expr> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::Int(value) => {
                self.advance();
                Ok(Expr {
                    kind: ExprKind::Int(value),
                    span: token.span,
                })
            }
            TokenKind::Float(value) => {
                self.advance();
                Ok(Expr {
                    kind: ExprKind::Float(value),
                    span: token.span,
                })
            }
            TokenKind::Str(value) => {
                self.advance();
                Ok(Expr {
                    kind: ExprKind::Str(value),
                    span: token.span,
                })
            }
            TokenKind::True | TokenKind::False => {
                self.advance();
                Ok(Expr {
                    kind: ExprKind::Bool(token.kind == TokenKind::True),
                    span: token.span,
                })
            }
            TokenKind::LParen => {
                self.advance();
                let (inner, span) =
                    self.delimited(token.span, TokenKind::RParen, true, |p| p.expression())?;
                Ok(Expr {
                    kind: ExprKind::Paren(Box::new(inner)),
                    span,
                })
            }
            TokenKind::LBracket => {
                self.advance();
                let (items, span) = self.delimited(token.span, TokenKind::RBracket, true, |p| {
                    let mut items = Vec::new();
                    while !p.at(&TokenKind::RBracket) {
                        items.push(p.expression()?);
                        if p.eat(&TokenKind::Comma).is_none() {
                            break;
                        }
                    }
                    Ok(items)
                })?;
                Ok(Expr {
                    kind: ExprKind::List(items),
                    span,
                })
            }
            TokenKind::Ident(_) => self.name_expression(),
            _ => Err(self.unexpected("an expression")),
        }
    }

    /// `f(args)`, or a (dotted) name with optional indices.
    fn name_expression(&mut self) -> PResult<Expr> {
        let first = self.expect_ident("")?;
        if self.at(&TokenKind::LParen) {
            let open = self.advance();
            let (args, args_span) =
                self.delimited(open.span, TokenKind::RParen, true, |p| p.arguments())?;
            let span = first.span.to(args_span);
            return Ok(Expr {
                kind: ExprKind::Call(Call {
                    callee: first,
                    args,
                    args_span,
                }),
                span,
            });
        }
        let path = self.path_rest(first);
        let mut span = path.span;
        // `W [i, j]` indexes too: a list literal never follows a tensor by juxtaposition.
        let indices = if self.at(&TokenKind::LBracket) {
            let list = self.index_list()?;
            span = span.to(list.span);
            Some(list)
        } else {
            None
        };
        Ok(Expr {
            kind: ExprKind::Tensor(TensorRef {
                name: path,
                indices,
                span,
            }),
            span,
        })
    }

    /// Continues a path after its first name: `.name` or `.0`, glued on both sides.
    fn path_rest(&mut self, first: Name) -> Path {
        let mut span = first.span;
        let mut segments = vec![first];
        loop {
            let dot = self.tokens[self.pos].clone();
            let after = self.tokens[(self.pos + 1).min(self.tokens.len() - 1)].clone();
            if dot.kind != TokenKind::Dot || dot.space_before || after.space_before {
                break;
            }
            let text = match &after.kind {
                TokenKind::Ident(text) => text.clone(),
                TokenKind::Int(value) => value.to_string(),
                _ => break,
            };
            self.pos += 2;
            span = span.to(after.span);
            segments.push(Name {
                text,
                span: after.span,
            });
        }
        Path { segments, span }
    }

    fn arguments(&mut self) -> PResult<Vec<Arg>> {
        let mut args = Vec::new();
        while !self.at(&TokenKind::RParen) {
            let named = matches!(self.peek_kind(), TokenKind::Ident(_))
                && self.peek_second().kind == TokenKind::Colon;
            let name = if named {
                let name = self.expect_ident("")?;
                self.advance();
                Some(name)
            } else {
                None
            };
            let value = self.expression()?;
            args.push(Arg { name, value });
            if self.eat(&TokenKind::Comma).is_none() {
                break;
            }
        }
        Ok(args)
    }

    /// `[i, j]`, `[p, p'.]`, `[t+1]`, `[4:8]`, `[:, 0]`.
    fn index_list(&mut self) -> PResult<IndexList> {
        let open = self.expect(&TokenKind::LBracket, "")?;
        let (items, span) = self.delimited(open.span, TokenKind::RBracket, true, |p| {
            let mut items = Vec::new();
            while !p.at(&TokenKind::RBracket) {
                items.push(p.index()?);
                if p.eat(&TokenKind::Comma).is_none() {
                    break;
                }
            }
            Ok(items)
        })?;
        Ok(IndexList { items, span })
    }

    fn index(&mut self) -> PResult<Index> {
        let start = self.peek().span.start;
        let starts_slice = self.at(&TokenKind::Colon);
        let first = if starts_slice {
            None
        } else {
            Some(self.expression()?)
        };
        let kind = if self.eat(&TokenKind::Colon).is_some() {
            let end = if matches!(
                self.peek_kind(),
                TokenKind::Comma | TokenKind::RBracket | TokenKind::Dot
            ) {
                None
            } else {
                Some(self.expression()?)
            };
            IndexKind::Slice { start: first, end }
        } else {
            match first {
                Some(expr) => IndexKind::Expr(expr),
                None => return Err(self.unexpected("an index")),
            }
        };
        let dotted = self.eat(&TokenKind::Dot).is_some();
        if let (true, IndexKind::Slice { .. }) = (dotted, &kind) {
            let span = Span::new(start, self.previous_end());
            return Err(self.error(
                Diagnostic::error(
                    codes::UNEXPECTED_TOKEN,
                    "a slice cannot be a normalisation axis",
                    span,
                    "`.` after a slice",
                )
                .with_help("put the `.` after an index variable, as in `p'.`"),
            ));
        }
        Ok(Index {
            kind,
            dotted,
            span: Span::new(start, self.previous_end()),
        })
    }
}
