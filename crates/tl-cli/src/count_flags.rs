//! Parsers of the count flags (`--runs`, `--context`, `--threads`, ...): whole numbers of at
//! least 1, refused while parsing with the flag named, as clap reports a parser's error.

/// A count flag's value: a whole number of at least 1.
pub(crate) fn positive_count(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(count) => Ok(count),
        Err(_) => Err(format!("`{text}` is not a whole number")),
    }
}

/// A thread count: 1 to 1024 (more would only contend, and a mistyped huge count would
/// spend minutes starting threads).
pub(crate) fn thread_count(text: &str) -> Result<usize, String> {
    match positive_count(text)? {
        count if count > 1024 => Err("must be at most 1024".into()),
        count => Ok(count),
    }
}

#[cfg(test)]
mod tests {
    use super::{positive_count, thread_count};

    #[test]
    fn counts_of_nothing_and_absurd_thread_counts_are_refused() {
        assert_eq!(positive_count("0"), Err("must be at least 1".into()));
        assert_eq!(
            positive_count("-3"),
            Err("`-3` is not a whole number".into())
        );
        assert_eq!(positive_count("512"), Ok(512));
        assert_eq!(thread_count("0"), Err("must be at least 1".into()));
        assert_eq!(thread_count("100000"), Err("must be at most 1024".into()));
        assert_eq!(thread_count("2"), Ok(2));
    }
}
