//! `kiwictl`: the Kiwi operator CLI. All logic lives in `kiwi::ctl`.

use clap::Parser;

fn main() {
    // Usage errors exit 2 with clap's message; everything else is one line from `ctl::main`.
    kiwi::ctl::install_panic_hook();
    let cli = kiwi::ctl::args::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kiwictl: cannot start: {e}");
            std::process::exit(2);
        }
    };
    let code = runtime.block_on(kiwi::ctl::main(cli));
    // Do not wait for `top`'s blocked keyboard thread or stray polls.
    runtime.shutdown_background();
    std::process::exit(code);
}
