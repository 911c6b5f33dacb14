fn main() {
    std::process::exit(roost::cli::main());
}
