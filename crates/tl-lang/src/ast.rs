//! The syntax tree. Every node carries the byte span of the text it came from, so that any
//! later stage can point at the exact place a problem comes from.

use crate::span::Span;

/// A whole program: its statements in order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Program {
    pub statements: Vec<Stmt>,
}

/// A name as written, with primes (`p'`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

/// A dotted name: `W`, `w.gate`, `w.blk.0.attn_q`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Path {
    pub segments: Vec<Name>,
    pub span: Span,
}

impl Path {
    /// The segments joined by dots, as the name is looked up.
    pub fn joined(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The single segment of an undotted path.
    pub fn simple(&self) -> Option<&Name> {
        match self.segments.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `Y[i] = …`, `Y[i] += …`, `Pool[x/2] max= …`.
    Equation(Equation),
    /// `let x = expr`.
    Let {
        name: Name,
        value: Expr,
    },
    /// `Y?`, `W[0, j]?` or `Ancestor(Alice, z)?`.
    Query(Query),
    /// `Parent(Alice, Bob).`
    Fact(Atom),
    /// `Ancestor(x, z) <- Ancestor(x, y), Parent(y, z).`
    Rule(Rule),
    /// `param W[o: 4, i] = normal(0, 0.1)`.
    Param(ParamDecl),
    /// `domain People = {Alice, Bob}`.
    Domain(DomainDecl),
    /// `minimize Loss with adamw(lr: 0.01) for 200 steps`.
    Minimize(Minimize),
    /// `fn name(a, b) { … }`.
    Function(Function),
    If(If),
    /// `for x in start..end { … }`.
    For {
        variable: Name,
        start: Expr,
        end: Expr,
        body: Block,
    },
    While {
        condition: Expr,
        body: Block,
    },
    Return(Option<Expr>),
    /// An expression evaluated for its effect, such as a call.
    Expr(Expr),
}

/// The way an equation combines its right-hand side into the left.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AssignOp {
    /// `=`: indices absent from the left are summed.
    Assign,
    /// `+=`: as `=`, then added to the tensor's current value.
    AddAssign,
    /// `max=`: indices absent from the left are projected by maximum.
    Max,
    /// `min=`
    Min,
    /// `avg=`: projected by mean.
    Avg,
}

impl AssignOp {
    pub fn symbol(self) -> &'static str {
        match self {
            AssignOp::Assign => "=",
            AssignOp::AddAssign => "+=",
            AssignOp::Max => "max=",
            AssignOp::Min => "min=",
            AssignOp::Avg => "avg=",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Equation {
    pub lhs: TensorRef,
    pub op: AssignOp,
    pub op_span: Span,
    pub rhs: Expr,
}

/// A tensor named with optional indices: `W[i, j]`, `X`, `w.gate[f, d]`, `Part[4:8]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorRef {
    pub name: Path,
    /// `None` for a bare name, `Some` (possibly empty: `S[]`) with brackets.
    pub indices: Option<IndexList>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IndexList {
    pub items: Vec<Index>,
    /// The brackets and everything between them.
    pub span: Span,
}

/// One position inside brackets.
#[derive(Clone, Debug, PartialEq)]
pub struct Index {
    pub kind: IndexKind,
    /// A trailing `.`: the normalisation axis (`p'.`).
    pub dotted: bool,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum IndexKind {
    /// An index variable, a constant or index arithmetic: `i`, `p'`, `t+1`, `x/2`, `0`.
    Expr(Expr),
    /// `start:end`, either bound optional: `4:8`, `:3`, `:`.
    Slice {
        start: Option<Expr>,
        end: Option<Expr>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Pow => "^",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }

    pub fn is_logical(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// `[1, 2, 3]`, `[[1, 2], [3, 4]]`.
    List(Vec<Expr>),
    Tensor(TensorRef),
    Call(Call),
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// Juxtaposition: `W[i, j] X[j]`, two or more factors.
    Join(Vec<Expr>),
    /// `( expr )`, kept so that spans and explanations follow the text.
    Paren(Box<Expr>),
    /// Stands in for an expression that failed to parse, so that checking can go on.
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub callee: Name,
    pub args: Vec<Arg>,
    /// The parentheses and the arguments between them.
    pub args_span: Span,
}

/// A call argument, positional (`0.1`) or named (`lr: 0.01`).
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Name>,
    pub value: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Query {
    Tensor(TensorRef),
    Atom(Atom),
}

/// `Parent(Alice, Bob)`, `Ancestor(x, z)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Atom {
    pub relation: Name,
    pub terms: Vec<Term>,
    pub span: Span,
}

/// A Datalog argument: lowercase-initial names are variables, uppercase-initial names and
/// numbers are constants, `_` matches anything.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    Variable(Name),
    Constant(Name),
    Wildcard(Span),
}

impl Term {
    pub fn span(&self) -> Span {
        match self {
            Term::Variable(name) | Term::Constant(name) => name.span,
            Term::Wildcard(span) => *span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub head: Atom,
    pub arrow_span: Span,
    pub body: Vec<Atom>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ParamDecl {
    pub name: Name,
    pub indices: Vec<ParamIndex>,
    /// The brackets (empty when the parameter is a scalar).
    pub indices_span: Span,
    pub init: Expr,
}

/// `o` or `o: 4` or `x: People` in a parameter's brackets.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamIndex {
    pub name: Name,
    pub size: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DomainDecl {
    pub name: Name,
    pub symbols: Vec<Name>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Minimize {
    pub target: Name,
    pub optimizer: Call,
    pub steps: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub name: Name,
    pub params: Vec<Name>,
    pub body: Block,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub statements: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct If {
    pub condition: Expr,
    pub then_block: Block,
    /// `else if …` is an `If` statement alone in an else block.
    pub else_block: Option<Block>,
}
