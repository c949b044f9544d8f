//! `intelmqctl`: the thin client of intelmqd. Parses the command line, sends one
//! request, prints the answer, exits with a documented code (see `exit.rs`).

mod cli;
mod client;
mod debug;
mod exit;
mod prompt;
mod render;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use intelmqd_proto::{Command, Outcome};

use cli::{Action, Cli, Config};
use render::Output;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let output = match cli.into_config() {
        Ok(config) => run(&config),
        Err(error) => render::local_error(error.kind, &error.message, exit::USAGE, json),
    };
    emit(&output);
    ExitCode::from(output.code)
}

fn run(config: &Config) -> Output {
    match &config.action {
        Action::Request(command) => match client::request(
            &config.socket,
            command.clone(),
            prompt::answers(config.answer),
            &mut prompt::ask,
        ) {
            Ok(response) => render::response(command, &response, config.json),
            Err(error) => render::client_error(&error, config.json),
        },
        Action::Debug(bot_id) => run_debug(config, bot_id),
    }
}

fn run_debug(config: &Config, bot_id: &str) -> Output {
    let command = Command::Debug {
        bot_id: bot_id.to_owned(),
    };
    let response = match client::request(
        &config.socket,
        command,
        prompt::answers(config.answer),
        &mut prompt::ask,
    ) {
        Ok(response) => response,
        Err(error) => return render::client_error(&error, config.json),
    };
    if !response.ok {
        return render::failure(&response, config.json);
    }
    let Some(Outcome::Debug {
        executable, env, ..
    }) = &response.result
    else {
        let error = client::ClientError::protocol(
            &config.socket,
            "the answer to \"debug\" does not say how to run the bot",
        );
        return render::client_error(&error, config.json);
    };
    if !config.json {
        emit(&Output {
            stdout: render::messages(&response.messages),
            ..Output::default()
        });
    }
    match debug::run(executable, bot_id, env) {
        Ok(code) => Output {
            code,
            ..Output::default()
        },
        Err(message) => render::local_error("action-failed", &message, exit::FAILED, config.json),
    }
}

/// Writes the output; a closed stdout or stderr (`| head`) is not an error.
fn emit(output: &Output) {
    if !output.stdout.is_empty() {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(output.stdout.as_bytes());
        let _ = stdout.flush();
    }
    if !output.stderr.is_empty() {
        let _ = std::io::stderr().lock().write_all(output.stderr.as_bytes());
    }
}
