//! `intelmqd-gen-docs DIR`: writes the man pages and the shell completions of
//! `intelmqd` and `intelmqctl` into `DIR/man/` and `DIR/completions/`, generated
//! from their clap definitions (`intelmqd::cli::Args`, `intelmqctl::cli::Cli`),
//! so that they never disagree with `--help`. Used by `contrib/deb/build.sh`;
//! not installed.
//!
//! - `man/intelmqd.8`, `man/intelmqctl.1` and one `man/intelmqctl-<command>.1`
//!   a subcommand;
//! - `completions/<shell>/<file>`, named as Debian's bash, zsh and fish look
//!   for them: `bash/intelmqctl`, `zsh/_intelmqctl`, `fish/intelmqctl.fish`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_mangen::Man;
use intelmqctl::cli::Shell;

const MANUAL: &str = "IntelMQ process management";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!(
            "usage: intelmqd-gen-docs DIR\nwrites DIR/man/*.{{1,8}} and DIR/completions/<shell>/*"
        );
        return ExitCode::from(2);
    };
    match generate(Path::new(&dir)) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("intelmqd-gen-docs: {error}");
            ExitCode::FAILURE
        }
    }
}

fn generate(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let man = dir.join("man");
    std::fs::create_dir_all(&man)?;
    let daemon = intelmqd::cli::Args::command();
    let client = intelmqctl::cli::Cli::command();
    written.push(page(daemon.clone(), "8", &man)?);
    let mut client_pages = client.clone().disable_help_subcommand(true);
    client_pages.build();
    written.push(page(client_pages.clone(), "1", &man)?);
    for sub in client_pages
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
    {
        written.push(page(sub.clone(), "1", &man)?);
    }
    for shell in Shell::ALL {
        let shell_dir = dir.join("completions").join(shell.name());
        std::fs::create_dir_all(&shell_dir)?;
        for (command, name) in [(&client, "intelmqctl"), (&daemon, "intelmqd")] {
            let file_name = Path::new(&shell.debian_path(name))
                .file_name()
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(name));
            let path = shell_dir.join(file_name);
            std::fs::write(&path, shell.script(&mut command.clone(), name))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Renders one page into `dir`; returns its path.
fn page(command: clap::Command, section: &str, dir: &Path) -> std::io::Result<PathBuf> {
    let version = env!("CARGO_PKG_VERSION");
    Man::new(command)
        .section(section)
        .manual(MANUAL)
        .source(format!("intelmqd {version}"))
        .generate_to(dir)
}
