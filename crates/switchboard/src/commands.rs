//! The one-shot subcommands: `check-config`, `token`, `publish`, `hash-password` (`serve`
//! is [`crate::App`]).

use anyhow::Context;

use crate::config::Config;
use crate::rules::Rules;

/// `switchboard check-config`: validate and print the effective configuration.
pub fn check_config(
    args: &crate::cli::ServeArgs,
    env: &std::collections::HashMap<String, String>,
) -> anyhow::Result<()> {
    let (config, warnings) = Config::load(args, env)?;
    Rules::from_config(&config.rules)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    print!("{}", config.redacted_toml());
    eprintln!("configuration OK");
    Ok(())
}

/// `switchboard token`: print a development JWT signed with the configured secret.
pub fn token_cli(
    args: &crate::cli::TokenArgs,
    env: &std::collections::HashMap<String, String>,
) -> anyhow::Result<()> {
    let (config, _) = Config::load(&args.config, env)?;
    let secret = config
        .jwt_secret
        .as_ref()
        .context("no JWT secret configured (--jwt-secret or SWITCHBOARD_JWT_SECRET)")?;
    let ttl = humantime::parse_duration(&args.ttl).context("--ttl must look like 1h, 30m or 7d")?;
    let token = crate::identity::mint(
        secret.expose(),
        &args.sub,
        &args.roles,
        args.tenant.as_deref(),
        ttl,
    )?;
    println!("{token}");
    Ok(())
}

/// `switchboard publish`: one event through a running server's HTTP API.
pub async fn publish_cli(args: crate::cli::PublishArgs) -> anyhow::Result<()> {
    let data: serde_json::Value =
        serde_json::from_str(&args.data).context("--data must be JSON")?;
    let body = serde_json::json!({
        "event": args.event, "data": data, "rooms": args.rooms, "except": args.except, "volatile": args.volatile,
    });
    let mut req = reqwest::Client::new()
        .post(format!("{}/api/v1/publish", args.url.trim_end_matches('/')))
        .json(&body);
    if let Some(key) = &args.api_key {
        req = req.bearer_auth(key.expose());
    }
    let resp = req.send().await.context("could not reach the server")?;
    let status = resp.status();
    let text = resp.text().await?;
    println!("{text}");
    anyhow::ensure!(status.is_success(), "publish failed with HTTP {status}");
    Ok(())
}

/// `switchboard hash-password`: the bcrypt hash (cost 12) of the first line of stdin,
/// for `admin_password_hash`. The password never appears in arguments or shell history.
pub fn hash_password() -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let password = line.trim_end_matches(['\r', '\n']);
    anyhow::ensure!(!password.is_empty(), "empty password on stdin");
    println!("{}", bcrypt::hash(password, 12)?);
    Ok(())
}
