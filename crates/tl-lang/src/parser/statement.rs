//! Statements: equations, Datalog facts, rules and queries, declarations, functions and
//! control flow.

use super::{Failed, PResult, Parser};
use crate::ast::*;
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::token::TokenKind;

impl Parser {
    /// Statements up to the end of input, or up to the `}` closing the current block.
    pub(crate) fn statements(&mut self, in_block: bool) -> Vec<Stmt> {
        let mut statements = Vec::new();
        loop {
            while matches!(self.peek_kind(), TokenKind::Newline | TokenKind::Semicolon) {
                self.advance();
            }
            match self.peek_kind() {
                TokenKind::Eof => break,
                TokenKind::RBrace if in_block => break,
                TokenKind::RBrace => {
                    let span = self.advance().span;
                    self.diagnostics.push(Diagnostic::error(
                        codes::UNEXPECTED_TOKEN,
                        "unexpected `}`",
                        span,
                        "no block is open here",
                    ));
                    continue;
                }
                _ => {}
            }
            let before = self.pos;
            let modes = self.newline_modes.len();
            let depth = self.depth;
            match self.statement() {
                Ok(statement) => statements.push(statement),
                Err(Failed) => {
                    self.newline_modes.truncate(modes);
                    self.depth = depth;
                    self.synchronize();
                }
            }
            if self.pos == before {
                self.advance();
            }
        }
        statements
    }

    fn statement(&mut self) -> PResult<Stmt> {
        let start = self.peek().span.start;
        let (kind, needs_terminator) = match self.peek_kind().clone() {
            TokenKind::Fn => (self.function()?, false),
            TokenKind::If => (StmtKind::If(self.if_statement()?), false),
            TokenKind::For => (self.for_loop()?, false),
            TokenKind::While => (self.while_loop()?, false),
            TokenKind::Let => (self.let_binding()?, true),
            TokenKind::Return => (self.return_statement()?, true),
            TokenKind::Param => (self.param()?, true),
            TokenKind::Domain => (self.domain()?, true),
            TokenKind::Minimize => (self.minimize()?, true),
            _ => return self.expression_statement(start),
        };
        let span = Span::new(start, self.previous_end());
        if needs_terminator {
            self.end_statement()?;
        }
        Ok(Stmt { kind, span })
    }

    /// A statement ends at a line end, `;`, `.`, the end of input, or before a `}`.
    fn end_statement(&mut self) -> PResult<()> {
        match self.peek_kind() {
            TokenKind::Newline | TokenKind::Semicolon | TokenKind::Dot => {
                self.advance();
                Ok(())
            }
            TokenKind::Eof | TokenKind::RBrace => Ok(()),
            _ => Err(self.unexpected("the end of the statement")),
        }
    }

    /// Statements that start with an expression: equations, facts, rules, queries and
    /// expression statements. Which one it is shows after the expression.
    fn expression_statement(&mut self, start: usize) -> PResult<Stmt> {
        let expr = self.expression()?;
        let next = self.peek().clone();
        let kind = match &next.kind {
            TokenKind::Assign | TokenKind::PlusAssign => {
                self.advance();
                let op = if next.kind == TokenKind::Assign {
                    AssignOp::Assign
                } else {
                    AssignOp::AddAssign
                };
                self.equation(expr, op, next.span)?
            }
            TokenKind::Ident(word)
                if matches!(word.as_str(), "max" | "min" | "avg")
                    && self.peek_second().kind == TokenKind::Assign =>
            {
                let op = match word.as_str() {
                    "max" => AssignOp::Max,
                    "min" => AssignOp::Min,
                    _ => AssignOp::Avg,
                };
                self.advance();
                let assign = self.advance();
                self.equation(expr, op, next.span.to(assign.span))?
            }
            TokenKind::Arrow => {
                self.advance();
                let head = self.atom_from_expr(expr, "the head of a rule")?;
                let body = self.rule_body()?;
                StmtKind::Rule(Rule {
                    head,
                    arrow_span: next.span,
                    body,
                })
            }
            TokenKind::Question => {
                self.advance();
                let query = match expr.kind {
                    ExprKind::Tensor(tensor) => Query::Tensor(tensor),
                    ExprKind::Call(_) => Query::Atom(self.atom_from_expr(expr, "a query")?),
                    _ => {
                        return Err(self.error(
                            Diagnostic::error(
                                codes::INVALID_TARGET,
                                "only tensors and relations can be queried",
                                expr.span,
                                "not a tensor or a relation",
                            )
                            .with_help("query a tensor with `Y?` or a relation with `R(A, x)?`"),
                        ))
                    }
                };
                let span = Span::new(start, self.previous_end());
                self.end_after_query()?;
                return Ok(Stmt {
                    kind: StmtKind::Query(query),
                    span,
                });
            }
            TokenKind::Dot if matches!(expr.kind, ExprKind::Call(_)) => {
                let atom = self.atom_from_expr(expr, "a fact")?;
                StmtKind::Fact(atom)
            }
            _ => StmtKind::Expr(expr),
        };
        let span = Span::new(start, self.previous_end());
        self.end_statement()?;
        Ok(Stmt { kind, span })
    }

    /// After `?` another statement may follow on the same line (`Y? Z?`).
    fn end_after_query(&mut self) -> PResult<()> {
        match self.peek_kind() {
            TokenKind::Newline | TokenKind::Semicolon => {
                self.advance();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn equation(&mut self, lhs: Expr, op: AssignOp, op_span: Span) -> PResult<StmtKind> {
        let lhs =
            match lhs.kind {
                ExprKind::Tensor(tensor) => tensor,
                _ => return Err(self.error(
                    Diagnostic::error(
                        codes::INVALID_TARGET,
                        format!("the left of `{}` must be a tensor", op.symbol()),
                        lhs.span,
                        "not a tensor name",
                    )
                    .with_secondary(op_span, "assignment here")
                    .with_help(
                        "write the defined tensor with its indices, as in `Y[i] = W[i, j] X[j]`",
                    ),
                )),
            };
        let rhs = self.expression()?;
        Ok(StmtKind::Equation(Equation {
            lhs,
            op,
            op_span,
            rhs,
        }))
    }

    /// Reinterprets a parsed call `R(a, B)` as a Datalog atom.
    fn atom_from_expr(&mut self, expr: Expr, role: &str) -> PResult<Atom> {
        let call = match expr.kind {
            ExprKind::Call(call) => call,
            _ => {
                return Err(self.error(
                    Diagnostic::error(
                        codes::INVALID_ATOM,
                        format!("{role} must be a relation applied to arguments"),
                        expr.span,
                        "not of the form `Relation(a, B)`",
                    )
                    .with_help("write it as `Parent(x, Bob)`"),
                ))
            }
        };
        let mut terms = Vec::new();
        for arg in call.args {
            if let Some(name) = &arg.name {
                return Err(self.error(Diagnostic::error(
                    codes::INVALID_ATOM,
                    "arguments of a relation cannot be named",
                    name.span,
                    "a named argument",
                )));
            }
            match term_from_expr(&arg.value) {
                Some(term) => terms.push(term),
                None => {
                    return Err(self.error(
                        Diagnostic::error(
                            codes::INVALID_ATOM,
                            "a relation's arguments are variables or constant symbols",
                            arg.value.span,
                            "not a variable or a symbol",
                        )
                        .with_help(
                            "lowercase names (`x`) are variables, capitalised names (`Alice`) \
                             and numbers are constants, `_` matches anything",
                        ),
                    ))
                }
            }
        }
        Ok(Atom {
            relation: call.callee,
            terms,
            span: expr.span,
        })
    }

    /// The comma-separated atoms after `<-`; line breaks may follow the commas.
    fn rule_body(&mut self) -> PResult<Vec<Atom>> {
        let mut body = Vec::new();
        loop {
            let expr = self.postfix_expression()?;
            body.push(self.atom_from_expr(expr, "each part of a rule's body")?);
            if self.eat(&TokenKind::Comma).is_none() {
                break;
            }
            while self.at(&TokenKind::Newline) {
                self.advance();
            }
        }
        Ok(body)
    }

    fn let_binding(&mut self) -> PResult<StmtKind> {
        self.advance();
        let name = self.expect_ident("after `let`")?;
        self.expect(&TokenKind::Assign, "after the name bound by `let`")?;
        let value = self.expression()?;
        Ok(StmtKind::Let { name, value })
    }

    fn return_statement(&mut self) -> PResult<StmtKind> {
        self.advance();
        let value = match self.peek_kind() {
            TokenKind::Newline | TokenKind::Semicolon | TokenKind::RBrace | TokenKind::Eof => None,
            _ => Some(self.expression()?),
        };
        Ok(StmtKind::Return(value))
    }

    /// `param W[o: 4, i] = normal(0, 0.1)`
    fn param(&mut self) -> PResult<StmtKind> {
        self.advance();
        let name = self.expect_ident("to name the parameter")?;
        let mut indices = Vec::new();
        let mut indices_span = Span::at(name.span.end);
        if let Some(open) = self.eat(&TokenKind::LBracket) {
            let (items, span) = self.delimited(open.span, TokenKind::RBracket, true, |p| {
                let mut items = Vec::new();
                while !p.at(&TokenKind::RBracket) {
                    let index = p.expect_ident("for an index of the parameter")?;
                    let size = if p.eat(&TokenKind::Colon).is_some() {
                        Some(p.expression()?)
                    } else {
                        None
                    };
                    items.push(ParamIndex { name: index, size });
                    if p.eat(&TokenKind::Comma).is_none() {
                        break;
                    }
                }
                Ok(items)
            })?;
            indices = items;
            indices_span = span;
        }
        self.expect(&TokenKind::Assign, "before the parameter's initial value")?;
        let init = self.expression()?;
        Ok(StmtKind::Param(ParamDecl {
            name,
            indices,
            indices_span,
            init,
        }))
    }

    /// `domain People = {Alice, Bob, Carol}`
    fn domain(&mut self) -> PResult<StmtKind> {
        self.advance();
        let name = self.expect_ident("to name the domain")?;
        self.expect(&TokenKind::Assign, "after the domain's name")?;
        let open = self.expect(&TokenKind::LBrace, "to list the domain's symbols")?;
        let (symbols, _) = self.delimited(open.span, TokenKind::RBrace, true, |p| {
            let mut symbols = Vec::new();
            while !p.at(&TokenKind::RBrace) {
                let token = p.peek().clone();
                match token.kind {
                    TokenKind::Ident(text) => {
                        p.advance();
                        symbols.push(Name {
                            text,
                            span: token.span,
                        });
                    }
                    TokenKind::Int(value) => {
                        p.advance();
                        symbols.push(Name {
                            text: value.to_string(),
                            span: token.span,
                        });
                    }
                    _ => return Err(p.unexpected("a symbol")),
                }
                if p.eat(&TokenKind::Comma).is_none() {
                    break;
                }
            }
            Ok(symbols)
        })?;
        Ok(StmtKind::Domain(DomainDecl { name, symbols }))
    }

    /// `minimize Loss with adamw(lr: 0.01) for 200 steps`
    fn minimize(&mut self) -> PResult<StmtKind> {
        self.advance();
        let target = self.expect_ident("to name the loss")?;
        if !self.at_ident("with") {
            return Err(self.unexpected("`with` and an optimiser"));
        }
        self.advance();
        let optimizer_expr = self.postfix_expression()?;
        let optimizer = match optimizer_expr.kind {
            ExprKind::Call(call) => call,
            _ => {
                return Err(self.error(
                    Diagnostic::error(
                        codes::UNEXPECTED_TOKEN,
                        "expected an optimiser call",
                        optimizer_expr.span,
                        "not a call",
                    )
                    .with_help("name the optimiser with its settings: `adamw(lr: 0.01)`"),
                ))
            }
        };
        self.expect(&TokenKind::For, "and the number of steps")?;
        let steps = self.primary()?;
        if !self.at_ident("steps") {
            return Err(self.unexpected("`steps`"));
        }
        self.advance();
        Ok(StmtKind::Minimize(Minimize {
            target,
            optimizer,
            steps,
        }))
    }

    fn function(&mut self) -> PResult<StmtKind> {
        self.advance();
        let name = self.expect_ident("to name the function")?;
        let open = self.expect(&TokenKind::LParen, "before the parameters")?;
        let (params, _) = self.delimited(open.span, TokenKind::RParen, true, |p| {
            let mut params = Vec::new();
            while !p.at(&TokenKind::RParen) {
                params.push(p.expect_ident("for a parameter")?);
                if p.eat(&TokenKind::Comma).is_none() {
                    break;
                }
            }
            Ok(params)
        })?;
        let body = self.block()?;
        Ok(StmtKind::Function(Function { name, params, body }))
    }

    /// `{ statements }`, with line ends significant inside.
    pub(crate) fn block(&mut self) -> PResult<Block> {
        let open = self.expect(&TokenKind::LBrace, "to open a block")?;
        let (statements, span) = self.delimited(open.span, TokenKind::RBrace, false, |p| {
            Ok(p.statements(true))
        })?;
        Ok(Block { statements, span })
    }

    fn if_statement(&mut self) -> PResult<If> {
        self.advance();
        let condition = self.expression()?;
        let then_block = self.block()?;
        // `else` may start the next line.
        let mut look = self.pos;
        while self.tokens[look].kind == TokenKind::Newline {
            look += 1;
        }
        let else_block = if self.tokens[look].kind == TokenKind::Else {
            self.pos = look + 1;
            if self.at(&TokenKind::If) {
                let start = self.peek().span.start;
                let nested = self.if_statement()?;
                let span = Span::new(start, self.previous_end());
                Some(Block {
                    statements: vec![Stmt {
                        kind: StmtKind::If(nested),
                        span,
                    }],
                    span,
                })
            } else {
                Some(self.block()?)
            }
        } else {
            None
        };
        Ok(If {
            condition,
            then_block,
            else_block,
        })
    }

    fn for_loop(&mut self) -> PResult<StmtKind> {
        self.advance();
        let variable = self.expect_ident("for the loop variable")?;
        if !self.at_ident("in") {
            return Err(self.unexpected("`in`"));
        }
        self.advance();
        let start = self.expression()?;
        self.expect(&TokenKind::DotDot, "between the bounds of the range")?;
        let end = self.expression()?;
        let body = self.block()?;
        Ok(StmtKind::For {
            variable,
            start,
            end,
            body,
        })
    }

    fn while_loop(&mut self) -> PResult<StmtKind> {
        self.advance();
        let condition = self.expression()?;
        let body = self.block()?;
        Ok(StmtKind::While { condition, body })
    }
}

/// A call argument read as a Datalog term.
fn term_from_expr(expr: &Expr) -> Option<Term> {
    match &expr.kind {
        ExprKind::Tensor(TensorRef {
            name,
            indices: None,
            ..
        }) => {
            let name = name.simple()?.clone();
            if name.text == "_" {
                return Some(Term::Wildcard(name.span));
            }
            let first = name.text.chars().next()?;
            if first.is_uppercase() {
                Some(Term::Constant(name))
            } else {
                Some(Term::Variable(name))
            }
        }
        ExprKind::Int(value) => Some(Term::Constant(Name {
            text: value.to_string(),
            span: expr.span,
        })),
        _ => None,
    }
}
