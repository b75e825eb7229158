// Compiling makes and frees many small nodes; mimalloc does that in a
// fraction of the instructions of the system's malloc (benches/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // The whole command runs on a thread with a large stack (see
    // `shopc::STACK_SIZE`); the main thread's is whatever the system gave.
    let command = std::thread::Builder::new()
        .name("shopc".into())
        .stack_size(shopc::STACK_SIZE)
        .spawn(shopc::cli::main);
    match command.map(std::thread::JoinHandle::join) {
        Ok(Ok(code)) => code,
        // A panic has printed its message; a thread that could not start
        // leaves the main thread to do the work.
        Ok(Err(_)) => std::process::ExitCode::from(101),
        Err(_) => shopc::cli::main(),
    }
}
