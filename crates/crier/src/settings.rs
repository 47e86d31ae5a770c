//! Layered configuration: defaults < `crier.toml` < `CRIER_*` environment < flags.
//!
//! clap already does defaults, environment and flags. The file is folded in by appending, for
//! each key of the file whose setting still has its default, the matching flag to the command
//! line and parsing again, so clap stays the one validator and `--help` the one reference.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::cli::Cli;

pub fn parse() -> anyhow::Result<Cli> {
    parse_from(std::env::args_os().collect())
}

pub fn parse_from(argv: Vec<OsString>) -> anyhow::Result<Cli> {
    let command = Cli::command();
    let matches = command.clone().try_get_matches_from(argv.clone()).unwrap_or_else(|err| err.exit());
    let (leaf_path, leaf) = leaf(&matches);
    let Some(config) = config_path(leaf) else {
        return Ok(Cli::from_arg_matches(&matches)?);
    };
    let explicit = leaf.value_source("config") != Some(ValueSource::DefaultValue);
    let table = match read_table(&config) {
        Ok(Some(table)) => table,
        Ok(None) if !explicit => return Ok(Cli::from_arg_matches(&matches)?),
        Ok(None) => bail!("configuration file {} does not exist", config.display()),
        Err(err) => return Err(err),
    };

    let mut leaf_command = &command;
    for name in &leaf_path {
        leaf_command = leaf_command.find_subcommand(name).context("subcommand vanished")?;
    }
    let mut extended = argv;
    for (key, value) in &table {
        let arg = leaf_command
            .get_arguments()
            .find(|arg| arg.get_id().as_str() == key && arg.get_env().is_some())
            .with_context(|| format!("{}: unknown setting `{key}` for this command", config.display()))?;
        if matches!(leaf.value_source(key), Some(ValueSource::DefaultValue) | None) {
            let value = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                    value.to_string()
                }
                _ => bail!("{}: `{key}` must be a string or a number", config.display()),
            };
            let flag = arg.get_long().context("setting without a long flag")?;
            extended.push(format!("--{flag}={value}").into());
        }
    }
    let matches = command.try_get_matches_from(extended).unwrap_or_else(|err| err.exit());
    Ok(Cli::from_arg_matches(&matches)?)
}

/// The innermost subcommand's matches and the names leading to it.
fn leaf(matches: &ArgMatches) -> (Vec<String>, &ArgMatches) {
    let mut path = Vec::new();
    let mut current = matches;
    while let Some((name, sub)) = current.subcommand() {
        path.push(name.to_owned());
        current = sub;
    }
    (path, current)
}

fn config_path(leaf: &ArgMatches) -> Option<PathBuf> {
    leaf.try_get_one::<PathBuf>("config").ok().flatten().cloned()
}

fn read_table(path: &Path) -> anyhow::Result<Option<toml::Table>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let table = text
                .parse::<toml::Table>()
                .with_context(|| format!("{} is not valid TOML", path.display()))?;
            Ok(Some(table))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::cli::Command;

    fn serve_with(config: &Path, extra: &[&str]) -> crate::cli::ServeArgs {
        let mut argv: Vec<OsString> = vec!["crier".into(), "serve".into()];
        argv.push(format!("--config={}", config.display()).into());
        argv.extend(extra.iter().map(OsString::from));
        match parse_from(argv).unwrap().command {
            Command::Serve(args) => *args,
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn file_overrides_defaults_and_flags_override_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crier.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9999\"\nmax_body_bytes = 2048\nrequest_timeout = \"5s\"\n",
        )
        .unwrap();
        let args = serve_with(&path, &[]);
        assert_eq!(args.listen.port(), 9999);
        assert_eq!(args.max_body_bytes, 2048);
        assert_eq!(args.request_timeout.as_secs(), 5);
        let args = serve_with(&path, &["--listen", "127.0.0.1:7777"]);
        assert_eq!(args.listen.port(), 7777);
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crier.toml");
        std::fs::write(&path, "lisen = \"127.0.0.1:9999\"\n").unwrap();
        let argv = vec!["crier".into(), "serve".into(), format!("--config={}", path.display()).into()];
        let err = parse_from(argv).unwrap_err();
        assert!(err.to_string().contains("unknown setting `lisen`"), "{err}");
    }

    #[test]
    fn an_explicit_missing_file_is_an_error() {
        let argv = vec!["crier".into(), "serve".into(), "--config=/nonexistent/crier.toml".into()];
        assert!(parse_from(argv).is_err());
    }
}
