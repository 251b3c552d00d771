//! Prints syntax trees back as program text with every grouping made explicit, so that tests
//! and tools can see exactly how a program was read. Printing, parsing and printing again
//! gives the same text.

use crate::ast::*;
use std::fmt::{self, Display, Formatter, Write};

impl Display for Program {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for statement in &self.statements {
            write_statement(f, statement, 0)?;
        }
        Ok(())
    }
}

fn indent(f: &mut Formatter<'_>, level: usize) -> fmt::Result {
    for _ in 0..level {
        f.write_str("    ")?;
    }
    Ok(())
}

fn write_block(f: &mut Formatter<'_>, block: &Block, level: usize) -> fmt::Result {
    f.write_str("{\n")?;
    for statement in &block.statements {
        write_statement(f, statement, level + 1)?;
    }
    indent(f, level)?;
    f.write_char('}')
}

fn write_statement(f: &mut Formatter<'_>, statement: &Stmt, level: usize) -> fmt::Result {
    indent(f, level)?;
    match &statement.kind {
        StmtKind::Equation(eq) => write!(f, "{} {} {}", eq.lhs, eq.op.symbol(), eq.rhs)?,
        StmtKind::Let { name, value } => write!(f, "let {} = {value}", name.text)?,
        StmtKind::Query(Query::Tensor(tensor)) => write!(f, "{tensor}?")?,
        StmtKind::Query(Query::Atom(atom)) => write!(f, "{atom}?")?,
        StmtKind::Fact(atom) => write!(f, "{atom}.")?,
        StmtKind::Rule(rule) => {
            write!(f, "{} <- ", rule.head)?;
            write_list(f, &rule.body)?;
            f.write_char('.')?;
        }
        StmtKind::Param(param) => {
            write!(f, "param {}", param.name.text)?;
            if !param.indices.is_empty() {
                f.write_char('[')?;
                for (i, index) in param.indices.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&index.name.text)?;
                    if let Some(size) = &index.size {
                        write!(f, ": {size}")?;
                    }
                }
                f.write_char(']')?;
            }
            write!(f, " = {}", param.init)?;
        }
        StmtKind::Domain(domain) => {
            write!(f, "domain {} = {{", domain.name.text)?;
            let names: Vec<&str> = domain.symbols.iter().map(|s| s.text.as_str()).collect();
            write!(f, "{}}}", names.join(", "))?;
        }
        StmtKind::Minimize(minimize) => write!(
            f,
            "minimize {} with {} for {} steps",
            minimize.target.text, minimize.optimizer, minimize.steps
        )?,
        StmtKind::Function(function) => {
            let params: Vec<&str> = function.params.iter().map(|p| p.text.as_str()).collect();
            write!(f, "fn {}({}) ", function.name.text, params.join(", "))?;
            write_block(f, &function.body, level)?;
        }
        StmtKind::If(if_statement) => write_if(f, if_statement, level)?,
        StmtKind::For {
            variable,
            start,
            end,
            body,
        } => {
            write!(f, "for {} in {start}..{end} ", variable.text)?;
            write_block(f, body, level)?;
        }
        StmtKind::While { condition, body } => {
            write!(f, "while {condition} ")?;
            write_block(f, body, level)?;
        }
        StmtKind::Return(Some(value)) => write!(f, "return {value}")?,
        StmtKind::Return(None) => f.write_str("return")?,
        StmtKind::Expr(expr) => write!(f, "{expr}")?,
    }
    f.write_char('\n')
}

fn write_if(f: &mut Formatter<'_>, if_statement: &If, level: usize) -> fmt::Result {
    write!(f, "if {} ", if_statement.condition)?;
    write_block(f, &if_statement.then_block, level)?;
    if let Some(else_block) = &if_statement.else_block {
        f.write_str(" else ")?;
        match else_block.statements.as_slice() {
            [Stmt {
                kind: StmtKind::If(nested),
                ..
            }] => write_if(f, nested, level)?,
            _ => write_block(f, else_block, level)?,
        }
    }
    Ok(())
}

fn write_list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl Display for Path {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.joined())
    }
}

impl Display for TensorRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if let Some(indices) = &self.indices {
            f.write_char('[')?;
            write_list(f, &indices.items)?;
            f.write_char(']')?;
        }
        Ok(())
    }
}

impl Display for Index {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            IndexKind::Expr(expr) => write!(f, "{expr}")?,
            IndexKind::Slice { start, end } => {
                if let Some(start) = start {
                    write!(f, "{start}")?;
                }
                f.write_char(':')?;
                if let Some(end) = end {
                    write!(f, "{end}")?;
                }
            }
        }
        if self.dotted {
            f.write_char('.')?;
        }
        Ok(())
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Int(value) => write!(f, "{value}"),
            ExprKind::Float(value) => write!(f, "{value:?}"),
            ExprKind::Str(value) => write_string(f, value),
            ExprKind::Bool(value) => write!(f, "{value}"),
            ExprKind::List(items) => {
                f.write_char('[')?;
                write_list(f, items)?;
                f.write_char(']')
            }
            ExprKind::Tensor(tensor) => write!(f, "{tensor}"),
            ExprKind::Call(call) => write!(f, "{call}"),
            ExprKind::Unary { op, operand } => {
                let symbol = match op {
                    UnaryOp::Neg => "-",
                    UnaryOp::Not => "!",
                };
                write!(f, "({symbol}{operand})")
            }
            ExprKind::Binary { op, lhs, rhs } => write!(f, "({lhs} {} {rhs})", op.symbol()),
            ExprKind::Join(factors) => {
                f.write_char('(')?;
                // A bare name before `(` would read as a call, so it gets parentheses of its
                // own: `(Y) (a ^ b)`. Decided from the right, as wrapping makes a `(`.
                let mut printed: Vec<String> =
                    factors.iter().map(|factor| factor.to_string()).collect();
                for i in (0..factors.len().saturating_sub(1)).rev() {
                    let bare = matches!(
                        &factors[i].kind,
                        ExprKind::Tensor(TensorRef { indices: None, .. })
                    );
                    if bare && printed[i + 1].starts_with('(') {
                        printed[i] = format!("({})", printed[i]);
                    }
                }
                f.write_str(&printed.join(" "))?;
                f.write_char(')')
            }
            // The inner expression already shows its grouping.
            ExprKind::Paren(inner) => match inner.kind {
                ExprKind::Binary { .. } | ExprKind::Join(_) | ExprKind::Unary { .. } => {
                    write!(f, "{inner}")
                }
                _ => write!(f, "({inner})"),
            },
            ExprKind::Error => f.write_str("<error>"),
        }
    }
}

/// A string literal with exactly the escapes the lexer reads.
fn write_string(f: &mut Formatter<'_>, value: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in value.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            '\0' => f.write_str("\\0")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl Display for Call {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.callee.text)?;
        write_list(f, &self.args)?;
        f.write_char(')')
    }
}

impl Display for Arg {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.name {
            write!(f, "{}: ", name.text)?;
        }
        write!(f, "{}", self.value)
    }
}

impl Display for Atom {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.relation.text)?;
        write_list(f, &self.terms)?;
        f.write_char(')')
    }
}

impl Display for Term {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Term::Variable(name) | Term::Constant(name) => f.write_str(&name.text),
            Term::Wildcard(_) => f.write_char('_'),
        }
    }
}
