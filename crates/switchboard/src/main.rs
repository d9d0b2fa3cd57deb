//! `switchboard`: serve, check-config, publish.

use clap::Parser;
use switchboard::cli::{Cli, Command};

fn main() -> anyhow::Result<()> {
    // Before the runtime spawns its threads (the module says why).
    let fds = switchboard::fdtable::prepare();
    switchboard::runtime::build()?.block_on(run(fds))
}

async fn run(fds: std::io::Result<switchboard::fdtable::FdSetup>) -> anyhow::Result<()> {
    let cli = Cli::parse();
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    match cli.command {
        Command::Serve(args) => {
            let (config, warnings) = switchboard::config::Config::load(&args, &env)?;
            let otel = switchboard::app::init_tracing(&config);
            warnings.iter().for_each(|w| tracing::warn!("{w}"));
            match fds {
                Ok(f) => tracing::debug!(open_files = f.limit, fd_table = f.presized, "fd setup"),
                Err(e) => tracing::warn!(error = %e, "could not raise the open-files limit"),
            }
            // Everything that can fail on configuration (database, keys) fails before binding.
            let listen = config.listen;
            let app = switchboard::App::build(config).await?;
            let listener = tokio::net::TcpListener::bind(listen).await?;
            let served = app.run(listener, switchboard::app::shutdown_signal()).await;
            if let Some(otel) = otel {
                // Blocking: the exporter's last batch goes out before the process exits.
                tokio::task::spawn_blocking(move || otel.shutdown()).await?;
            }
            served
        }
        Command::CheckConfig(args) => switchboard::commands::check_config(&args, &env),
        Command::Publish(args) => switchboard::commands::publish_cli(args).await,
        Command::Token(args) => switchboard::commands::token_cli(&args, &env),
        Command::HashPassword => switchboard::commands::hash_password(),
    }
}
