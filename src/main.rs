//! roost's entry point: run the command line, print an error once, exit with podman's status codes.

fn main() {
    let code = match roost::run() {
        Ok(code) => code,
        Err(e) => {
            if !matches!(e, roost::Error::Reported(_)) {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("Error: {}", e.chain());
                    if let Some(f) = e.footer() {
                        eprintln!("{f}");
                    }
                }
            }
            e.exit_code()
        }
    };
    std::process::exit(code);
}
