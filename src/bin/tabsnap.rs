//! The `tabsnap` command line: the operator's tool and the reference host.

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use tabsnap::sql;

/// BACKUP SNAPSHOT / RESTORE for OLAP engines: statements, snapshots and repositories.
#[derive(Parser)]
#[command(name = "tabsnap", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and check statements; print each in canonical form, one per line.
    ///
    /// Exit status: 0 all statements are valid, 2 a syntax error, 3 an analysis error (Doris's message),
    /// 1 the input could not be read.
    Parse {
        /// File to read, or `-` (the default) for standard input.
        #[arg(default_value = "-")]
        file: String,
        /// Print each statement's syntax tree as one JSON object per line instead.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse { file, json } => parse_command(&file, json),
    }
}

fn read_input(file: &str) -> std::io::Result<String> {
    if file == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(file)
    }
}

fn parse_command(file: &str, json: bool) -> ExitCode {
    let name = if file == "-" { "<stdin>" } else { file };
    let text = match read_input(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {name}: {e}");
            return ExitCode::from(1);
        }
    };
    let stmts = match sql::parse_spanned(&text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {name}: {e}");
            return ExitCode::from(2);
        }
    };
    for (stmt, span) in &stmts {
        if let Err(e) = sql::validate(stmt) {
            let (line, column) = line_column(&text, span.start);
            eprintln!("error: {name}: line {line}, column {column}: {e}");
            eprintln!("  in: {stmt}");
            return ExitCode::from(3);
        }
    }
    let mut out = String::new();
    for (stmt, _) in &stmts {
        if json {
            match serde_json::to_string(stmt) {
                Ok(s) => out.push_str(&s),
                Err(e) => {
                    eprintln!("error: cannot encode the syntax tree: {e}");
                    return ExitCode::from(1);
                }
            }
        } else {
            out.push_str(&stmt.to_string());
            out.push(';');
        }
        out.push('\n');
    }
    print!("{out}");
    ExitCode::SUCCESS
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
