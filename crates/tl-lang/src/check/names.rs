//! Name resolution and call checking: every tensor, variable, function, relation and
//! argument a program mentions must exist where it is mentioned, and every builtin must be
//! called with the arguments it takes, in a place where it means something.

use super::Globals;
use crate::ast::*;
use crate::builtins::{self, ArgKind, BuiltinKind};
use crate::codes;
use crate::constant;
use crate::diagnostic::Diagnostic;
use crate::environment::Environment;
use crate::span::Span;
use std::collections::HashMap;

pub(crate) fn resolve(
    program: &Program,
    globals: &Globals,
    environment: &dyn Environment,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut walker = Walker {
        globals,
        environment,
        diagnostics,
        scopes: Vec::new(),
        in_function: false,
    };
    walker.statements(&program.statements);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Binding {
    /// Bound by `let`, `for` or as a function parameter.
    Variable,
    /// Defined by an equation inside a function body.
    LocalTensor,
}

/// Where an expression stands, for builtins that only mean something in one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Anywhere,
    ParamInit,
    /// The optimiser after `minimize … with`.
    Minimize,
    /// A call standing as a statement of its own.
    Statement,
}

struct Walker<'a> {
    globals: &'a Globals,
    environment: &'a dyn Environment,
    diagnostics: &'a mut Vec<Diagnostic>,
    scopes: Vec<HashMap<String, Binding>>,
    in_function: bool,
}

impl Walker<'_> {
    fn lookup(&self, name: &str) -> Option<Binding> {
        self.scopes
            .iter()
            .rev()
            .find_map(|scope| scope.get(name).copied())
    }

    fn define(&mut self, name: &str, binding: Binding) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_string(), binding);
        }
    }

    fn value_exists(&self, name: &str) -> bool {
        self.lookup(name).is_some()
            || self.globals.defines_value(name)
            || self.environment.tensor(name).is_some()
    }

    fn visible_values(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .scopes
            .iter()
            .flat_map(|scope| scope.keys().cloned())
            .collect();
        names.extend(self.globals.tensors.keys().cloned());
        names.extend(self.globals.params.keys().cloned());
        names.extend(self.globals.relations.keys().cloned());
        names.extend(self.globals.lets.iter().cloned());
        names
    }

    fn statements(&mut self, statements: &[Stmt]) {
        for statement in statements {
            self.statement(statement);
        }
    }

    fn block(&mut self, block: &Block, bound: Option<&Name>) {
        self.scopes.push(HashMap::new());
        if let Some(name) = bound {
            self.define(&name.text, Binding::Variable);
        }
        self.statements(&block.statements);
        self.scopes.pop();
    }

    fn statement(&mut self, statement: &Stmt) {
        match &statement.kind {
            StmtKind::Equation(eq) => {
                self.expr(&eq.rhs, Place::Anywhere);
                if self.in_function && eq.op == AssignOp::AddAssign {
                    self.tensor_ref(&eq.lhs);
                }
                if let Some(name) = eq.lhs.name.simple() {
                    if self.in_function {
                        self.define(&name.text, Binding::LocalTensor);
                    }
                }
            }
            StmtKind::Let { name, value } => {
                self.expr(value, Place::Anywhere);
                self.define(&name.text, Binding::Variable);
            }
            StmtKind::Query(Query::Tensor(tensor)) => self.tensor_ref(tensor),
            StmtKind::Query(Query::Atom(atom)) => self.relation_exists(atom),
            StmtKind::Fact(atom) => self.fact(atom),
            StmtKind::Rule(rule) => self.rule(rule),
            StmtKind::Param(param) => self.param(param),
            StmtKind::Domain(_) => {}
            StmtKind::Minimize(minimize) => self.minimize(minimize, statement.span),
            StmtKind::Function(function) => {
                let outer = std::mem::replace(&mut self.in_function, true);
                self.scopes.push(HashMap::new());
                let mut seen: HashMap<&str, Span> = HashMap::new();
                for param in &function.params {
                    if let Some(first) = seen.insert(&param.text, param.span) {
                        self.diagnostics.push(
                            Diagnostic::error(
                                codes::DUPLICATE_DEFINITION,
                                format!("parameter `{}` is listed twice", param.text),
                                param.span,
                                "listed again here",
                            )
                            .with_secondary(first, "first listed here"),
                        );
                    }
                    self.define(&param.text, Binding::Variable);
                }
                self.statements(&function.body.statements);
                self.scopes.pop();
                self.in_function = outer;
            }
            StmtKind::If(if_statement) => self.if_statement(if_statement),
            StmtKind::For {
                variable,
                start,
                end,
                body,
            } => {
                self.expr(start, Place::Anywhere);
                self.expr(end, Place::Anywhere);
                self.block(body, Some(variable));
            }
            StmtKind::While { condition, body } => {
                self.expr(condition, Place::Anywhere);
                self.block(body, None);
            }
            StmtKind::Return(value) => {
                if !self.in_function {
                    self.diagnostics.push(
                        Diagnostic::error(
                            codes::RETURN_OUTSIDE_FUNCTION,
                            "`return` outside a function",
                            statement.span,
                            "not inside any `fn`",
                        )
                        .with_help("top-level equations define tensors; query one with `Y?`"),
                    );
                }
                if let Some(value) = value {
                    self.expr(value, Place::Anywhere);
                }
            }
            StmtKind::Expr(expr) => self.expression_statement(expr),
        }
    }

    fn if_statement(&mut self, if_statement: &If) {
        self.expr(&if_statement.condition, Place::Anywhere);
        self.block(&if_statement.then_block, None);
        if let Some(else_block) = &if_statement.else_block {
            self.block(else_block, None);
        }
    }

    fn expression_statement(&mut self, expr: &Expr) {
        if let ExprKind::Call(call) = &expr.kind {
            if let Some(builtin) = builtins::lookup(&call.callee.text) {
                if matches!(builtin.kind, BuiltinKind::Output(_))
                    && !self.globals.functions.contains_key(&call.callee.text)
                {
                    self.builtin_call(builtin, call, Place::Statement);
                    return;
                }
            }
            let is_user_function = self.globals.functions.contains_key(&call.callee.text);
            if is_user_function || builtins::lookup(&call.callee.text).is_none() {
                if !is_user_function && self.value_exists(&call.callee.text) {
                    // `Parent(Alice, Bob)` without its final dot.
                    self.diagnostics.push(
                        Diagnostic::error(
                            codes::UNKNOWN_FUNCTION,
                            format!("`{}` is a relation, not a function", call.callee.text),
                            call.callee.span,
                            "called like a function",
                        )
                        .with_help("to state a fact, end it with `.`: `Parent(Alice, Bob).`"),
                    );
                    return;
                }
                self.expr(expr, Place::Anywhere);
                return;
            }
        }
        self.expr(expr, Place::Anywhere);
        self.diagnostics.push(
            Diagnostic::error(
                codes::EXPRESSION_STATEMENT,
                "this expression's value is not used",
                expr.span,
                "computed, then thrown away",
            )
            .with_help("define a tensor with it (`Y = …`), or print a tensor with `Y?`"),
        );
    }

    fn fact(&mut self, atom: &Atom) {
        for term in &atom.terms {
            let (span, what) = match term {
                Term::Variable(name) => (name.span, format!("`{}` is a variable", name.text)),
                Term::Wildcard(span) => (*span, "`_` is a wildcard".to_string()),
                Term::Constant(_) => continue,
            };
            self.diagnostics.push(
                Diagnostic::error(
                    codes::NON_GROUND_FACT,
                    "a fact cannot have variables",
                    span,
                    what,
                )
                .with_help(
                    "constants start with a capital letter (`Alice`); a statement with \
                     variables is a rule: `Head(x) <- Body(x).`",
                ),
            );
        }
    }

    fn rule(&mut self, rule: &Rule) {
        let mut bound = std::collections::HashSet::new();
        for atom in &rule.body {
            self.relation_exists(atom);
            for term in &atom.terms {
                if let Term::Variable(name) = term {
                    bound.insert(name.text.as_str());
                }
            }
        }
        for term in &rule.head.terms {
            let (span, label) = match term {
                Term::Variable(name) if !bound.contains(name.text.as_str()) => (
                    name.span,
                    format!("`{}` does not occur in the body", name.text),
                ),
                Term::Wildcard(span) => (*span, "a wildcard in the head".to_string()),
                _ => continue,
            };
            self.diagnostics.push(
                Diagnostic::error(
                    codes::UNSAFE_RULE,
                    "every variable of a rule's head must occur in its body",
                    span,
                    label,
                )
                .with_secondary(
                    rule.body
                        .iter()
                        .map(|a| a.span)
                        .reduce(Span::to)
                        .unwrap_or(rule.arrow_span),
                    "the body",
                )
                .with_help("otherwise the head would hold for every symbol of the domain"),
            );
        }
    }

    fn relation_exists(&mut self, atom: &Atom) {
        if self.value_exists(&atom.relation.text) {
            return;
        }
        let mut diagnostic = Diagnostic::error(
            codes::UNDEFINED_TENSOR,
            format!("cannot find relation `{}`", atom.relation.text),
            atom.relation.span,
            "no fact, rule or equation defines it",
        );
        if let Some(similar) = suggest(&atom.relation.text, &self.visible_values()) {
            diagnostic = diagnostic.with_help(format!("a similar name exists: `{similar}`"));
        }
        self.diagnostics.push(diagnostic);
    }

    fn param(&mut self, param: &ParamDecl) {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for index in &param.indices {
            if let Some(first) = seen.insert(&index.name.text, index.name.span) {
                self.diagnostics.push(
                    Diagnostic::error(
                        codes::DUPLICATE_DEFINITION,
                        format!("index `{}` appears twice", index.name.text),
                        index.name.span,
                        "again here",
                    )
                    .with_secondary(first, "first here")
                    .with_help("each axis of a parameter needs its own index name"),
                );
            }
            if let Some(size) = &index.size {
                let is_domain = crate::index_form::bare_name(size)
                    .is_some_and(|n| self.globals.domains.contains_key(n));
                let constant =
                    constant::evaluate_integer(size, &|n| self.globals.constants.get(n).copied());
                if !is_domain && constant.is_none_or(|v| v <= 0) {
                    self.diagnostics.push(
                        Diagnostic::error(
                            codes::UNKNOWN_INDEX_SIZE,
                            format!(
                                "the size of `{}` is not a positive whole number",
                                index.name.text
                            ),
                            size.span,
                            "not a size known before running",
                        )
                        .with_help(
                            "write a number (`o: 4`), a `let` constant, or a domain (`x: People`)",
                        ),
                    );
                }
            }
        }
        if !is_initialiser(&param.init, self.globals) {
            self.diagnostics.push(
                Diagnostic::error(
                    codes::INVALID_INIT,
                    format!("parameter `{}` needs an initial value", param.name.text),
                    param.init.span,
                    "not an initialiser",
                )
                .with_help(
                    "start it from normal(mean, std), uniform(low, high), zeros(), ones(), \
                     full(value), load(path), a number or a list",
                ),
            );
            return;
        }
        self.expr(&param.init, Place::ParamInit);
    }

    fn minimize(&mut self, minimize: &Minimize, span: Span) {
        let target = &minimize.target.text;
        if !self.globals.tensors.contains_key(target) {
            let label = if self.globals.params.contains_key(target) {
                "a parameter, not a loss computed from one"
            } else if self.value_exists(target) {
                "not defined by an equation"
            } else {
                "no equation defines it"
            };
            self.diagnostics.push(
                Diagnostic::error(
                    codes::INVALID_LOSS,
                    format!("cannot minimize `{target}`"),
                    minimize.target.span,
                    label,
                )
                .with_help("define the loss with an equation, e.g. `Loss avg= (Y[n] - T[n])^2`"),
            );
        }
        if self.globals.params.is_empty() {
            self.diagnostics.push(
                Diagnostic::error(
                    codes::NO_PARAMETERS,
                    "nothing to learn: the program declares no `param`",
                    span,
                    "minimizes over no parameters",
                )
                .with_help("declare what is learned: `param W[o, i] = normal(0, 0.1)`"),
            );
        }
        let call = &minimize.optimizer;
        match builtins::lookup(&call.callee.text) {
            Some(builtin) if matches!(builtin.kind, BuiltinKind::Optimizer(_)) => {
                self.builtin_call(builtin, call, Place::Minimize)
            }
            Some(_) => self.diagnostics.push(
                Diagnostic::error(
                    codes::MISPLACED_BUILTIN,
                    format!("`{}` is not an optimiser", call.callee.text),
                    call.callee.span,
                    "not an optimiser",
                )
                .with_help("use `adamw(lr: …)` or `sgd(lr: …)`"),
            ),
            None => self.diagnostics.push(
                Diagnostic::error(
                    codes::UNKNOWN_FUNCTION,
                    format!("unknown optimiser `{}`", call.callee.text),
                    call.callee.span,
                    "no such optimiser",
                )
                .with_help("use `adamw(lr: …)` or `sgd(lr: …)`"),
            ),
        }
        let steps = constant::evaluate_integer(&minimize.steps, &|n| {
            self.globals.constants.get(n).copied()
        });
        if steps.is_none_or(|s| s <= 0) {
            self.diagnostics.push(Diagnostic::error(
                codes::INVALID_ARGUMENT,
                "the number of steps must be a positive whole number",
                minimize.steps.span,
                "not a positive whole number",
            ));
        }
    }

    fn tensor_ref(&mut self, tensor: &TensorRef) {
        let segments = &tensor.name.segments;
        let first = &segments[0];
        let found = if segments.len() > 1 {
            // Field access on a bound value (`w.gate`), or a dotted host/global name.
            self.lookup(&first.text).is_some()
                || self.globals.lets.contains(&first.text)
                || self.value_exists(&tensor.name.joined())
        } else {
            self.value_exists(&first.text)
        };
        if !found {
            let name = tensor.name.joined();
            let (code, message) = if tensor.indices.is_some() {
                (
                    codes::UNDEFINED_TENSOR,
                    format!("cannot find tensor `{name}`"),
                )
            } else {
                (codes::UNDEFINED_VARIABLE, format!("cannot find `{name}`"))
            };
            let mut diagnostic = Diagnostic::error(code, message, tensor.name.span, "not defined");
            diagnostic = match suggest(&name, &self.visible_values()) {
                Some(similar) => {
                    diagnostic.with_help(format!("a similar name exists: `{similar}`"))
                }
                None if self.in_function => diagnostic.with_help(
                    "inside a function, names are its parameters, earlier statements, and \
                     top-level definitions",
                ),
                None => diagnostic.with_help(
                    "define it with an equation, declare it with `param`, or have the host \
                     supply it",
                ),
            };
            self.diagnostics.push(diagnostic);
        }
        if let Some(indices) = &tensor.indices {
            for index in &indices.items {
                // Names in brackets are index variables, bound positions or symbols; only
                // what they contain beyond names is checked here.
                match &index.kind {
                    IndexKind::Expr(expr) => self.index_expr(expr),
                    IndexKind::Slice { start, end } => {
                        for bound in [start, end].into_iter().flatten() {
                            self.index_expr(bound);
                        }
                    }
                }
            }
        }
    }

    fn index_expr(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::Tensor(TensorRef { indices: None, .. }) => {}
            ExprKind::Paren(inner) => self.index_expr(inner),
            ExprKind::Unary { operand, .. } => self.index_expr(operand),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.index_expr(lhs);
                self.index_expr(rhs);
            }
            _ => self.expr(expr, Place::Anywhere),
        }
    }

    fn expr(&mut self, expr: &Expr, place: Place) {
        match &expr.kind {
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Str(_)
            | ExprKind::Bool(_)
            | ExprKind::Error => {}
            ExprKind::List(items) => {
                for item in items {
                    self.expr(item, Place::Anywhere);
                }
            }
            ExprKind::Tensor(tensor) => self.tensor_ref(tensor),
            ExprKind::Call(call) => self.call(call, place),
            ExprKind::Unary { operand, .. } => self.expr(operand, Place::Anywhere),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.expr(lhs, Place::Anywhere);
                self.expr(rhs, Place::Anywhere);
            }
            ExprKind::Join(factors) => {
                for factor in factors {
                    self.expr(factor, Place::Anywhere);
                }
            }
            ExprKind::Paren(inner) => self.expr(inner, place),
        }
    }

    fn call(&mut self, call: &Call, place: Place) {
        let name = &call.callee.text;
        if let Some((arity, defined)) = self.globals.functions.get(name).copied() {
            if let Some(named) = call.args.iter().find_map(|a| a.name.as_ref()) {
                self.diagnostics.push(
                    Diagnostic::error(
                        codes::UNKNOWN_ARGUMENT,
                        format!("`{name}` takes positional arguments only"),
                        named.span,
                        "a named argument",
                    )
                    .with_secondary(defined, "defined here"),
                );
            } else if call.args.len() != arity {
                let plural = if arity == 1 { "" } else { "s" };
                self.diagnostics.push(
                    Diagnostic::error(
                        codes::WRONG_ARGUMENT_COUNT,
                        format!(
                            "`{name}` takes {arity} argument{plural} but {} were given",
                            call.args.len()
                        ),
                        call.args_span,
                        format!("{} arguments", call.args.len()),
                    )
                    .with_secondary(defined, format!("`{name}` is defined here")),
                );
            }
            for arg in &call.args {
                self.expr(&arg.value, Place::Anywhere);
            }
            return;
        }
        if let Some(builtin) = builtins::lookup(name) {
            self.builtin_call(builtin, call, place);
            return;
        }
        let mut diagnostic = Diagnostic::error(
            codes::UNKNOWN_FUNCTION,
            format!("cannot find function `{name}`"),
            call.callee.span,
            "no such function",
        );
        if self.value_exists(name) {
            diagnostic = diagnostic.with_help(format!(
                "`{name}` is a tensor or relation: index it with brackets, as in `{name}[x, y]`"
            ));
        } else {
            let mut known: Vec<String> = builtins::BUILTINS
                .iter()
                .map(|b| b.name.to_string())
                .collect();
            known.extend(self.globals.functions.keys().cloned());
            if let Some(similar) = suggest(name, &known) {
                diagnostic =
                    diagnostic.with_help(format!("a similar function exists: `{similar}`"));
            }
        }
        self.diagnostics.push(diagnostic);
        for arg in &call.args {
            self.expr(&arg.value, Place::Anywhere);
        }
    }

    fn builtin_call(&mut self, builtin: &'static builtins::Builtin, call: &Call, place: Place) {
        match builtin.kind {
            BuiltinKind::Init(_) if place != Place::ParamInit => {
                self.diagnostics.push(
                    Diagnostic::error(
                        codes::MISPLACED_BUILTIN,
                        format!("`{}` can only start a parameter", builtin.name),
                        call.callee.span,
                        "used outside a `param` declaration",
                    )
                    .with_help(format!(
                        "declare a learned tensor: `param W[o, i] = {}(…)`",
                        builtin.name
                    )),
                );
                return;
            }
            BuiltinKind::Optimizer(_) if place != Place::Minimize => {
                self.diagnostics.push(
                    Diagnostic::error(
                        codes::MISPLACED_BUILTIN,
                        format!("`{}` is an optimiser", builtin.name),
                        call.callee.span,
                        "used outside `minimize`",
                    )
                    .with_help(format!(
                        "train with `minimize Loss with {}(lr: 0.01) for 100 steps`",
                        builtin.name
                    )),
                );
                return;
            }
            BuiltinKind::Output(_) if place != Place::Statement => {
                self.diagnostics.push(
                    Diagnostic::error(
                        codes::MISPLACED_BUILTIN,
                        format!("`{}` is a statement, not a value", builtin.name),
                        call.callee.span,
                        "used inside an expression",
                    )
                    .with_help(format!("call `{}(…)` on a line of its own", builtin.name)),
                );
                return;
            }
            _ => {}
        }
        let bound = match builtins::bind(builtin, call) {
            Ok(bound) => bound,
            Err(diagnostic) => {
                self.diagnostics.push(diagnostic);
                for arg in &call.args {
                    self.expr(&arg.value, Place::Anywhere);
                }
                return;
            }
        };
        for (spec, arg) in builtin.params.iter().zip(&bound.args) {
            let Some(arg) = arg else { continue };
            match spec.kind {
                ArgKind::Tensor => self.expr(arg, Place::Anywhere),
                ArgKind::Text => {
                    if !matches!(arg.kind, ExprKind::Str(_)) {
                        self.diagnostics.push(
                            Diagnostic::error(
                                codes::INVALID_ARGUMENT,
                                format!("`{}` of `{}` must be a string", spec.name, builtin.name),
                                arg.span,
                                "not a string literal",
                            )
                            .with_help(format!(
                                "write it in quotes: `{}(\"weights.npy\")`",
                                builtin.name
                            )),
                        );
                    }
                }
                ArgKind::Constant => {
                    let value =
                        constant::evaluate(arg, &|n| self.globals.constants.get(n).copied());
                    if value.is_none() {
                        self.diagnostics.push(
                            Diagnostic::error(
                                codes::INVALID_ARGUMENT,
                                format!(
                                    "`{}` of `{}` must be a number known before the program runs",
                                    spec.name, builtin.name
                                ),
                                arg.span,
                                "not a constant",
                            )
                            .with_help("use a number, arithmetic on numbers, or a `let` constant"),
                        );
                    }
                }
            }
        }
    }
}

/// Whether `init` can start a parameter: an initialiser call, `load`, a list or a number.
pub(crate) fn is_initialiser(init: &Expr, globals: &Globals) -> bool {
    match &init.kind {
        ExprKind::Call(call) => matches!(
            builtins::lookup(&call.callee.text).map(|b| b.kind),
            Some(BuiltinKind::Init(_) | BuiltinKind::Load)
        ),
        ExprKind::List(_) => true,
        _ => constant::evaluate(init, &|n| globals.constants.get(n).copied()).is_some(),
    }
}

/// The closest name within a small edit distance, for "did you mean" hints.
fn suggest(name: &str, candidates: &[String]) -> Option<String> {
    let limit = (name.chars().count() / 3).clamp(1, 3);
    candidates
        .iter()
        .filter(|c| c.as_str() != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}
