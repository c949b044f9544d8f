//! `intelmqctl`: the thin client of intelmqd. Parses the command line, sends one
//! request, prints the answer, exits with a documented code (see `exit.rs`).

mod client;
mod compat;
mod debug;
mod follow;
mod prompt;
mod render;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use intelmqctl::{cli, exit};
use intelmqd_proto::{Command, Outcome};

use cli::{Action, Cli, Config, LogArgs, Shell};
use render::{Output, Style};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    if compat::requested(&args) {
        let output = compat::run(args);
        emit(&output);
        return ExitCode::from(output.code);
    }
    let cli = Cli::parse();
    let json = cli.json;
    let output = match cli.into_config() {
        Ok(config) => run(&config, Style::detect()),
        Err(error) => render::local_error(error.kind, &error.message, exit::USAGE, json),
    };
    emit(&output);
    ExitCode::from(output.code)
}

fn run(config: &Config, style: Style) -> Output {
    match &config.action {
        Action::Request(command) => match client::request(
            &config.socket,
            command.clone(),
            prompt::answers(config.answer),
            &mut prompt::ask,
        ) {
            Ok(response) => render::response(command, &response, config.json, style),
            Err(error) => render::client_error(&error, config.json),
        },
        Action::Debug(bot_id) => run_debug(config, bot_id, style),
        Action::Log(args) => run_log(config, args, style),
        Action::Events => run_events(config, style),
        Action::Completions(shell) => completions(*shell, config.json),
    }
}

/// `log`: the daemon's tail of the bot's log; with `--follow`, then the new
/// lines as the bot writes them, read from the file the daemon named.
fn run_log(config: &Config, args: &LogArgs, style: Style) -> Output {
    let command = Command::Log {
        bot_id: args.bot_id.clone(),
        lines: Some(args.lines),
        level: args.level.clone(),
    };
    let response = match client::request(
        &config.socket,
        command.clone(),
        prompt::answers(config.answer),
        &mut prompt::ask,
    ) {
        Ok(response) => response,
        Err(error) => return render::client_error(&error, config.json),
    };
    let output = render::response(&command, &response, config.json, style);
    if !args.follow || output.code != exit::SUCCESS {
        return output;
    }
    let Some(Outcome::Log { path, lines, .. }) = &response.result else {
        return output;
    };
    // The "no lines" note is for a one-off look, not for following.
    emit(&Output {
        stdout: output.stdout,
        ..Output::default()
    });
    let path = Path::new(path);
    let mut follower = match follow::Follower::new(path, lines, args.lines, args.level.as_deref()) {
        Ok(follower) => follower,
        Err(error) => return cannot_follow(path, &error, config.json),
    };
    if !path.exists() && !config.json {
        emit(&Output {
            stderr: format!(
                "intelmqctl: {} does not exist yet; waiting for it\n",
                path.display()
            ),
            ..Output::default()
        });
    }
    loop {
        let found = match follower.poll() {
            Ok(found) => found,
            Err(error) => return cannot_follow(path, &error, config.json),
        };
        let mut stderr = std::io::stderr().lock();
        for notice in &found.notices {
            let _ = writeln!(stderr, "intelmqctl: {notice}");
        }
        drop(stderr);
        if !found.lines.is_empty() {
            let text: String = found
                .lines
                .iter()
                .map(|line| render::log_line(&args.bot_id, line, config.json))
                .collect();
            if write_stdout(&text).is_err() {
                // The reader went away (`| head`): done.
                return Output::default();
            }
        }
        std::thread::sleep(follow::POLL);
    }
}

fn cannot_follow(path: &Path, error: &std::io::Error, json: bool) -> Output {
    render::local_error(
        "action-failed",
        &format!("cannot follow {}: {error}", path.display()),
        exit::FAILED,
        json,
    )
}

/// `events`: subscribe, then one line an event until Ctrl+C (or the daemon
/// goes away: exit 3).
fn run_events(config: &Config, style: Style) -> Output {
    let (mut connection, response) = match client::subscribe(&config.socket) {
        Ok(subscribed) => subscribed,
        Err(error) => return render::client_error(&error, config.json),
    };
    if !response.ok {
        return render::failure(&response, config.json, style);
    }
    if response.result != Some(Outcome::Subscribed) {
        let error = client::ClientError::protocol(
            &config.socket,
            "the answer to \"events\" is not \"subscribed\"",
        );
        return render::client_error(&error, config.json);
    }
    // On stderr, so that stdout holds nothing but events; also tells a script
    // that nothing from now on is missed.
    emit(&Output {
        stderr: format!(
            "intelmqctl: subscribed to the events of intelmqd at {}; Ctrl+C ends\n",
            config.socket.display()
        ),
        ..Output::default()
    });
    loop {
        match client::next_event(&mut connection) {
            Ok(Some(event)) => {
                if write_stdout(&render::event_line(&event, config.json)).is_err() {
                    return Output::default();
                }
            }
            Ok(None) => return Output::default(),
            Err(error) => return render::client_error(&error, config.json),
        }
    }
}

/// `completions SHELL`: the script on stdout (with --json: in an object).
fn completions(shell: Shell, json: bool) -> Output {
    let script = shell.script(&mut Cli::command(), "intelmqctl");
    let stdout = if json {
        let document = serde_json::json!({"shell": shell.name(), "script": script});
        format!("{document}\n")
    } else {
        script
    };
    Output {
        stdout,
        ..Output::default()
    }
}

/// Writes and flushes at once: followed lines and events are seen as they come.
fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

fn run_debug(config: &Config, bot_id: &str, style: Style) -> Output {
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
        return render::failure(&response, config.json, style);
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
