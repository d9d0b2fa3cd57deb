//! Command-line definitions (clap derive). No logic: `main` dispatches on
//! [`Command`], and [`crate::config::Config::load`] layers [`ServeArgs`]
//! (`config::Flags`) over the config file and environment.
//!
//! Every `serve` option is an `Option` so that "not given" stays distinguishable from
//! a value, and each has a `SWITCHBOARD_*` environment twin (README "CLI and configuration").

use crate::config::Secret;

/// Options of `serve` and `check-config` (the config layer of flags).
pub use crate::config::Flags as ServeArgs;

/// Switchboard: a standalone real-time server for unmodified Socket.IO v4 clients.
#[derive(Debug, clap::Parser)]
#[command(name = "switchboard", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Validate the configuration and print the effective config (secrets redacted).
    CheckConfig(ServeArgs),
    /// Publish an event through a running server's HTTP API.
    Publish(PublishArgs),
    /// Mint a development JWT (HS256) with the configured secret.
    Token(TokenArgs),
    /// Read a password on stdin and print its bcrypt hash (for `admin_password_hash`).
    HashPassword,
}

/// Options of `token`.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// The user id (`sub` claim).
    #[arg(long)]
    pub sub: String,
    /// A role (`roles` claim); repeat for several.
    #[arg(long = "role", value_name = "ROLE")]
    pub roles: Vec<String>,
    /// The tenant (`tenant` claim).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Lifetime, e.g. `1h`, `30m`, `7d`.
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    /// Where the secret comes from (`--jwt-secret`, `SWITCHBOARD_JWT_SECRET` or the config file).
    #[command(flatten)]
    pub config: ServeArgs,
}

/// Options of `publish`.
#[derive(Debug, Clone, clap::Args)]
pub struct PublishArgs {
    /// Base URL of a running server.
    #[arg(long, env = "SWITCHBOARD_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,

    /// API key (sent as `Authorization: Bearer`).
    #[arg(
        long,
        value_name = "K",
        env = "SWITCHBOARD_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<Secret>,

    /// Event name.
    #[arg(long, value_name = "E")]
    pub event: String,

    /// Event data as JSON.
    #[arg(long, value_name = "JSON", default_value = "null")]
    pub data: String,

    /// Target room; repeat for several. None: every client.
    #[arg(long = "room", value_name = "R")]
    pub rooms: Vec<String>,

    /// Room whose members are skipped; repeatable.
    #[arg(long = "except", value_name = "R")]
    pub except: Vec<String>,

    /// Volatile delivery: may be dropped for slow clients and is not replayed.
    #[arg(long)]
    pub volatile: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthMode;
    use clap::{CommandFactory, Parser};
    use std::path::PathBuf;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("switchboard").chain(args.iter().copied()))
    }

    fn serve(args: &[&str]) -> ServeArgs {
        match parse(args).unwrap().command {
            Command::Serve(a) => a,
            _ => panic!("expected serve"),
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    // The env twins are covered by config tests through the env map; these tests never
    // set process environment variables.

    #[test]
    fn serve_without_flags_leaves_everything_unset() {
        // clap reads the real environment; this test only means something without it.
        if std::env::vars().any(|(k, _)| k.starts_with("SWITCHBOARD_")) {
            return;
        }
        let a = serve(&["serve"]);
        assert!(a.config.is_none() && a.listen.is_none() && a.database_url.is_none());
        assert!(a.redis_url.is_none() && a.auth.is_none() && a.jwt_secret.is_none());
        assert!(a.api_key.is_none() && a.demo.is_none());
    }

    #[test]
    fn serve_flags_parse() {
        let a = serve(&[
            "serve",
            "--config",
            "sb.toml",
            "--listen",
            "0.0.0.0:4000",
            "--database-url",
            "sqlite::memory:",
            "--redis-url",
            "redis://127.0.0.1/",
            "--auth",
            "required",
            "--jwt-secret",
            "s3cret",
            "--api-key",
            "k1",
            "--demo",
        ]);
        assert_eq!(a.config.unwrap(), PathBuf::from("sb.toml"));
        assert_eq!(a.listen.unwrap(), "0.0.0.0:4000".parse().unwrap());
        assert_eq!(a.database_url.as_deref(), Some("sqlite::memory:"));
        assert_eq!(a.redis_url.as_deref(), Some("redis://127.0.0.1/"));
        assert_eq!(a.auth, Some(AuthMode::Required));
        assert_eq!(a.jwt_secret.unwrap().expose(), "s3cret");
        assert_eq!(a.api_key.unwrap().expose(), "k1");
        assert_eq!(a.demo, Some(true));
        assert_eq!(serve(&["serve", "--demo=false"]).demo, Some(false));
    }

    #[test]
    fn bad_flag_values_are_rejected() {
        assert!(parse(&["serve", "--auth", "maybe"]).is_err());
        assert!(parse(&["serve", "--listen", "localhost"]).is_err());
        assert!(parse(&["serve", "--demo=perhaps"]).is_err());
    }

    #[test]
    fn check_config_takes_serve_args() {
        let cli = parse(&["check-config", "--listen", "127.0.0.1:1"]).unwrap();
        assert!(matches!(cli.command, Command::CheckConfig(a) if a.listen.is_some()));
    }

    #[test]
    fn publish_args() {
        let cli = parse(&[
            "publish",
            "--event",
            "ticketCreated",
            "--data",
            "{\"id\":1}",
            "--room",
            "dashboard",
            "--room",
            "service-a",
            "--except",
            "counter-1",
            "--volatile",
        ])
        .unwrap();
        let Command::Publish(p) = cli.command else {
            panic!("expected publish")
        };
        assert_eq!(p.event, "ticketCreated");
        assert_eq!(p.data, "{\"id\":1}");
        assert_eq!(p.rooms, ["dashboard", "service-a"]);
        assert_eq!(p.except, ["counter-1"]);
        assert!(p.volatile);

        let Command::Publish(p) = parse(&["publish", "--event", "x"]).unwrap().command else {
            panic!("expected publish")
        };
        assert_eq!(p.data, "null");
        assert!(p.rooms.is_empty() && !p.volatile);
        assert!(parse(&["publish"]).is_err(), "--event is required");
    }

    #[test]
    fn secrets_are_not_printed() {
        let a = serve(&["serve", "--jwt-secret", "topsecret", "--api-key", "key123"]);
        let dbg = format!("{a:?}");
        assert!(
            !dbg.contains("topsecret") && !dbg.contains("key123"),
            "{dbg}"
        );
    }
}
