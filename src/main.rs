fn main() -> std::process::ExitCode {
    shopc::cli::main()
}
