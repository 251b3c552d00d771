//! The catalogue of diagnostic codes. Codes are stable: tools and documentation refer to
//! them, so a code is never reused for a different problem.

/// One entry of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeInfo {
    pub code: &'static str,
    pub title: &'static str,
}

macro_rules! catalogue {
    ($($name:ident = $code:literal, $title:literal;)*) => {
        $(#[doc = $title] pub const $name: &str = $code;)*
        /// Every code, in order.
        pub const ALL: &[CodeInfo] = &[$(CodeInfo { code: $code, title: $title }),*];
    };
}

catalogue! {
    // syntax
    UNEXPECTED_CHARACTER = "E0001", "a character that is not part of the language";
    UNTERMINATED_STRING = "E0002", "a string without its closing quote";
    UNTERMINATED_COMMENT = "E0003", "a block comment without its closing `*/`";
    MALFORMED_NUMBER = "E0004", "a malformed number";
    UNKNOWN_ESCAPE = "E0005", "an unknown escape sequence in a string";
    UNEXPECTED_TOKEN = "E0010", "a token where the grammar expects something else";
    UNCLOSED_DELIMITER = "E0011", "a bracket, parenthesis or brace never closed";
    INVALID_TARGET = "E0012", "something other than a tensor assigned to or queried";
    INVALID_ATOM = "E0013", "a Datalog fact, rule or query not of the form `R(a, B)`";
    TOO_DEEP = "E0014", "nesting too deep";
    // names
    UNDEFINED_TENSOR = "E0101", "a tensor that no equation, declaration or host defines";
    UNKNOWN_FUNCTION = "E0102", "a call to a function that does not exist";
    UNDEFINED_VARIABLE = "E0103", "a name that is not defined where it is used";
    DUPLICATE_DEFINITION = "E0104", "a function, parameter, domain or argument defined twice";
    RETURN_OUTSIDE_FUNCTION = "E0105", "`return` outside a function";
    MISPLACED_BUILTIN = "E0106", "a builtin used where it has no meaning";
    EXPRESSION_STATEMENT = "E0107", "an expression whose value is thrown away";
    // calls
    WRONG_ARGUMENT_COUNT = "E0201", "a call with too many or too few arguments";
    UNKNOWN_ARGUMENT = "E0202", "a named argument the function does not take";
    DUPLICATE_ARGUMENT = "E0203", "an argument given twice";
    INVALID_ARGUMENT = "E0204", "an argument of the wrong kind";
    // indices and shapes
    INDEX_SIZE_MISMATCH = "E0301", "an index bound to two different sizes";
    RANK_MISMATCH = "E0302", "a tensor or relation used with different numbers of indices";
    UNKNOWN_INDEX_SIZE = "E0303", "an index whose range cannot be inferred";
    UNSUPPORTED_INDEX = "E0304", "index arithmetic outside the supported forms";
    MISPLACED_SLICE = "E0305", "a slice mixed with index variables, or out of place";
    NO_NORMALISATION_AXIS = "E0306", "a normalising function without a normalisation axis";
    SEVERAL_NORMALISATION_AXES = "E0307", "more than one normalisation axis";
    MISSING_INDICES = "E0308", "a tensor used without indices among indexed tensors";
    SHAPE_MISMATCH = "E0309", "whole tensors of different shapes combined";
    INDEX_OUT_OF_RANGE = "E0310", "a constant index or slice bound outside the tensor";
    // Datalog
    NON_GROUND_FACT = "E0401", "a fact with variables";
    UNSAFE_RULE = "E0402", "a rule whose head has a variable its body does not bind";
    SYMBOL_NOT_IN_DOMAIN = "E0403", "a symbol outside the declared domain of its position";
    CONFLICTING_DOMAINS = "E0404", "two declared domains meeting at one argument position";
    // learning
    INVALID_LOSS = "E0501", "a loss that is not a scalar defined by an equation";
    NO_PARAMETERS = "E0502", "`minimize` in a program without parameters";
    INVALID_INIT = "E0503", "a parameter's initial value that is not an initialiser";
    // planning
    INDIVISIBLE_POOLING = "E0601", "pooling by a factor that does not divide the axis";
    UNPLANNABLE = "E0602", "an equation the einsum planner cannot lower";
}

/// The catalogue entry of `code`.
pub fn lookup(code: &str) -> Option<CodeInfo> {
    ALL.iter().copied().find(|info| info.code == code)
}
