//! The rule for bot ids. A bot id names files (`<bot_id>.pid`, `<bot_id>.log`),
//! so the same rule is enforced everywhere a bot id comes in.

use std::fmt;

/// The longest bot id accepted.
pub const MAX_BOT_ID_LEN: usize = 64;

/// Why a string is not a valid bot id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotIdError {
    Empty,
    TooLong(usize),
    BadCharacter(char),
    BadFirstCharacter(char),
}

impl fmt::Display for BotIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BotIdError::Empty => write!(f, "a bot id cannot be empty"),
            BotIdError::TooLong(len) => write!(
                f,
                "a bot id has at most {MAX_BOT_ID_LEN} characters, this one has {len}"
            ),
            BotIdError::BadCharacter(c) => write!(
                f,
                "a bot id may only contain letters, digits, '.', '_' and '-', not {c:?}"
            ),
            BotIdError::BadFirstCharacter(c) => {
                write!(f, "a bot id cannot start with {c:?}")
            }
        }
    }
}

impl std::error::Error for BotIdError {}

/// Checks that `bot_id` is 1–64 characters of `A-Z a-z 0-9 . _ -`, not starting
/// with `.` or `-`.
pub fn validate_bot_id(bot_id: &str) -> Result<(), BotIdError> {
    let first = bot_id.chars().next().ok_or(BotIdError::Empty)?;
    let len = bot_id.chars().count();
    if len > MAX_BOT_ID_LEN {
        return Err(BotIdError::TooLong(len));
    }
    if let Some(bad) = bot_id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(BotIdError::BadCharacter(bad));
    }
    if first == '.' || first == '-' {
        return Err(BotIdError::BadFirstCharacter(first));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_intelmq_style_ids() {
        for id in ["file-collector", "a", "Parser_2.b", &"x".repeat(64)] {
            assert_eq!(validate_bot_id(id), Ok(()), "{id}");
        }
    }

    #[test]
    fn rejects_what_could_escape_a_directory_or_confuse_a_shell() {
        assert_eq!(validate_bot_id(""), Err(BotIdError::Empty));
        assert_eq!(validate_bot_id("../x"), Err(BotIdError::BadCharacter('/')));
        assert_eq!(
            validate_bot_id(".hidden"),
            Err(BotIdError::BadFirstCharacter('.'))
        );
        assert_eq!(
            validate_bot_id("-rf"),
            Err(BotIdError::BadFirstCharacter('-'))
        );
        assert_eq!(validate_bot_id("a b"), Err(BotIdError::BadCharacter(' ')));
        assert_eq!(validate_bot_id("bö"), Err(BotIdError::BadCharacter('ö')));
        assert_eq!(
            validate_bot_id(&"x".repeat(65)),
            Err(BotIdError::TooLong(65))
        );
    }
}
