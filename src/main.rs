use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = linkyard::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            report(&anyhow::Error::new(error).context("starting the async runtime"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(linkyard::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&error);
            ExitCode::FAILURE
        }
    }
}

#[expect(
    clippy::print_stderr,
    reason = "the error of a failed command goes to the terminal"
)]
fn report(error: &anyhow::Error) {
    eprintln!("error: {error:#}");
}
