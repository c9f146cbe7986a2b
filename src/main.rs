fn main() -> std::process::ExitCode {
    syncdesk::cli::run()
}
