//! Asking the operator the spec's questions during a request. How depends on
//! the request: `--yes`/`--no` answer for them, an interactive client is sent
//! the question and its answer awaited, and otherwise the capitalised default
//! is taken and the answer says so.

use intelmqd_proto::{Answers, Level, Message};
use tokio::sync::{mpsc, oneshot};

/// A question on its way to the client's connection.
#[derive(Debug)]
pub struct AskRequest {
    pub bot_id: String,
    pub text: String,
    pub default: bool,
    pub answer: oneshot::Sender<bool>,
}

/// The way one request's questions are answered.
#[derive(Debug, Clone)]
pub struct Asker {
    answers: Answers,
    client: Option<mpsc::Sender<AskRequest>>,
}

impl Asker {
    pub fn new(answers: Answers, client: Option<mpsc::Sender<AskRequest>>) -> Asker {
        Asker { answers, client }
    }

    /// Asks, and returns the answer with a message that records the question
    /// and how it was answered.
    pub async fn ask(&self, bot_id: &str, text: &str, default: bool) -> (bool, Message) {
        let word = |yes: bool| if yes { "yes" } else { "no" };
        let record = |answer: bool, how: &str| {
            let message = Message::new(
                Level::Info,
                Some(bot_id),
                format!("{text} {} ({how})", word(answer)),
            );
            (answer, message)
        };
        match (self.answers, &self.client) {
            (Answers::Yes, _) => record(true, "--yes"),
            (Answers::No, _) => record(false, "--no"),
            (Answers::Ask, Some(client)) => {
                let (answer, receive) = oneshot::channel();
                let request = AskRequest {
                    bot_id: bot_id.to_owned(),
                    text: text.to_owned(),
                    default,
                    answer,
                };
                if client.send(request).await.is_ok() {
                    if let Ok(answer) = receive.await {
                        return record(answer, "answered");
                    }
                }
                record(default, "no answer came; the default was taken")
            }
            (Answers::Default | Answers::Ask, _) => record(
                default,
                "nobody to ask: no terminal and neither --yes nor --no; the default was taken",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn flags_and_defaults_answer_without_asking() {
        let (answer, message) = Asker::new(Answers::Yes, None)
            .ask("b", "Go? [N/y]", false)
            .await;
        assert!(answer);
        assert_eq!(message.text, "Go? [N/y] yes (--yes)");
        let (answer, _) = Asker::new(Answers::No, None)
            .ask("b", "Go? [Y/n]", true)
            .await;
        assert!(!answer);
        let (answer, message) = Asker::new(Answers::Default, None)
            .ask("b", "Go? [N/y]", false)
            .await;
        assert!(!answer);
        assert!(
            message.text.contains("the default was taken"),
            "{}",
            message.text
        );
    }

    #[tokio::test]
    async fn an_interactive_client_is_asked() {
        let (client, mut questions) = mpsc::channel(1);
        let asker = Asker::new(Answers::Ask, Some(client));
        let answering = tokio::spawn(async move {
            let question = questions.recv().await.expect("a question");
            assert_eq!(question.text, "Stop? [N/y]");
            question.answer.send(true).expect("still waiting");
        });
        let (answer, message) = asker.ask("b", "Stop? [N/y]", false).await;
        answering.await.expect("answered");
        assert!(answer);
        assert_eq!(message.text, "Stop? [N/y] yes (answered)");
    }
}
