//! The REPL's state apart from the terminal: the program typed so far, and what each new
//! input prints. Every input is checked and run together with what came before (top-level
//! definitions form one set), and only the new input's answers are shown.

use std::path::PathBuf;
use tl_lang::eval::{run_source_from, EvalOptions, RunFailure};
use tl_lang::{render_all, RenderOptions};
use tl_tensor::Device;

pub struct ReplSession {
    device: Device,
    base: PathBuf,
    options: EvalOptions,
    render: RenderOptions,
    /// Every input accepted so far.
    program: String,
}

/// What one input produced.
#[derive(Debug, Default, PartialEq)]
pub struct ReplReply {
    /// Answers and printed values, for stdout.
    pub output: Vec<String>,
    /// Rendered diagnostics, for stderr.
    pub errors: String,
}

pub const HELP: &str = "\
Enter TensorLogic statements; they join the program typed so far.
  Y[i] = W[i, j] X[j]        an equation (top-level definitions form one set)
  Parent(Alice, Bob).        a fact;  Ancestor(x, z) <- Parent(x, z).  a rule
  Y?   Ancestor(Alice, z)?    queries print a tensor or the answers
  print(X)   save(\"y.npy\", Y)
A line that ends inside ( [ or { continues on the next line.
Commands: :help  :program (show the program)  :reset (forget it)  :quit";

impl ReplSession {
    pub fn new(device: Device, base: PathBuf, render: RenderOptions) -> ReplSession {
        ReplSession {
            device,
            base,
            options: EvalOptions::default(),
            render,
            program: String::new(),
        }
    }

    pub fn program(&self) -> &str {
        &self.program
    }

    pub fn reset(&mut self) {
        self.program.clear();
    }

    /// Checks and runs the program with `input` added; keeps the input if it ran.
    pub fn submit(&mut self, input: &str) -> ReplReply {
        let offset = self.program.len();
        let candidate = format!("{}{}\n", self.program, input.trim_end());
        let outcome = run_source_from(
            &candidate,
            &self.base,
            self.device.clone(),
            self.options.clone(),
            offset,
        );
        let render = |diagnostics: &[tl_lang::Diagnostic]| {
            render_all(diagnostics, "<repl>", &candidate, self.render)
        };
        match outcome {
            Ok(result) => {
                let reply = ReplReply {
                    output: result.evaluator.log().output.clone(),
                    errors: render(&result.analysis.diagnostics),
                };
                self.program = candidate;
                reply
            }
            Err(RunFailure::Check(diagnostics)) => ReplReply {
                output: Vec::new(),
                errors: render(&diagnostics),
            },
            Err(RunFailure::Run {
                diagnostic,
                evaluator,
            }) => ReplReply {
                output: evaluator.log().output.clone(),
                errors: render(&[diagnostic]),
            },
        }
    }
}

/// Whether `text` ends inside brackets, parentheses, braces or a block comment, so that
/// the REPL should read another line before running it.
pub fn needs_more(text: &str) -> bool {
    let mut depth: i64 = 0;
    let mut comment_depth = 0;
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if comment_depth > 0 {
            if c == '*' && chars.peek() == Some(&'/') {
                chars.next();
                comment_depth -= 1;
            } else if c == '/' && chars.peek() == Some(&'*') {
                chars.next();
                comment_depth += 1;
            }
            continue;
        }
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => in_string = false,
                '\n' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '/' if chars.peek() == Some(&'/') => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                comment_depth += 1;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    depth > 0 || comment_depth > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> ReplSession {
        ReplSession::new(
            Device::cpu_with_threads(1),
            PathBuf::from("."),
            RenderOptions::default(),
        )
    }

    #[test]
    fn definitions_persist_and_only_new_answers_print() {
        let mut repl = session();
        assert_eq!(repl.submit("X = [1, 2, 3]").output, Vec::<String>::new());
        assert_eq!(repl.submit("Y[i] = 2 * X[i]").output, Vec::<String>::new());
        assert_eq!(repl.submit("Y?").output, vec!["Y? [2, 4, 6]"]);
        // The earlier query is not answered again.
        assert_eq!(repl.submit("X?").output, vec!["X? [1, 2, 3]"]);
        repl.submit("Parent(Alice, Bob).\nParent(Bob, Carol).");
        repl.submit(
            "Ancestor(x, y) <- Parent(x, y).\nAncestor(x, z) <- Ancestor(x, y), Parent(y, z).",
        );
        assert_eq!(
            repl.submit("Ancestor(Alice, z)?").output,
            vec!["Ancestor(Alice, z)? 2 answers (z)\n  (Bob)\n  (Carol)"]
        );
    }

    #[test]
    fn errors_are_rendered_and_the_input_dropped() {
        let mut repl = session();
        repl.submit("X = [1, 2]");
        let reply = repl.submit("Y[i] = X[i] Z[i]");
        assert!(reply.errors.contains("E0101"), "{}", reply.errors);
        assert_eq!(repl.program(), "X = [1, 2]\n");
        assert_eq!(repl.submit("X?").output, vec!["X? [1, 2]"]);
    }

    #[test]
    fn open_brackets_continue_the_input() {
        assert!(needs_more("fn f(x) {"));
        assert!(needs_more("W = [[1, 2],"));
        assert!(!needs_more("W = [[1, 2], [3, 4]]"));
        assert!(!needs_more("E = load(\"a(b.npy\")"));
        assert!(!needs_more("Y = X // a comment with ("));
        assert!(needs_more("/* a comment"));
    }
}
