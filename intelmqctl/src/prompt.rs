//! Asking the operator the daemon's questions at the terminal.

use std::io::{BufRead, IsTerminal, Write};

use intelmqd_proto::{Answers, Question};

use crate::cli::Answer;

/// How this invocation answers questions: `--yes`/`--no`, at the terminal
/// when stdin is one, else the daemon takes the defaults and says so.
pub fn answers(answer: Answer) -> Answers {
    match answer {
        Answer::Yes => Answers::Yes,
        Answer::No => Answers::No,
        Answer::Ask if std::io::stdin().is_terminal() => Answers::Ask,
        Answer::Ask => Answers::Default,
    }
}

/// Puts `question` on stderr and reads the answer from stdin: y/yes or n/no
/// (any case), an empty line for the default. Asks again on anything else;
/// `None` (the default) when stdin ends.
pub fn ask(question: &Question) -> Option<bool> {
    let stdin = std::io::stdin();
    let mut stderr = std::io::stderr();
    loop {
        let _ = write!(stderr, "{} ", question.text);
        let _ = stderr.flush();
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        match parse_answer(&line) {
            Some(answer) => return answer,
            None => {
                let _ = writeln!(
                    stderr,
                    "Please answer y or n (or press Enter for the default)."
                );
            }
        }
    }
}

/// `Some(None)` is the default (an empty line).
fn parse_answer(line: &str) -> Option<Option<bool>> {
    match line.trim().to_ascii_lowercase().as_str() {
        "" => Some(None),
        "y" | "yes" => Some(Some(true)),
        "n" | "no" => Some(Some(false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_usual_answers() {
        assert_eq!(parse_answer("y\n"), Some(Some(true)));
        assert_eq!(parse_answer("YES\n"), Some(Some(true)));
        assert_eq!(parse_answer(" n \n"), Some(Some(false)));
        assert_eq!(parse_answer("\n"), Some(None));
        assert_eq!(parse_answer("maybe\n"), None);
    }
}
