/// The walk and merge allocate many small values; mimalloc is ~2x faster at that than
/// the system allocator (see the merge bench).
#[global_allocator]
static ALLOCATOR: syncdesk::allocator::Mimalloc = syncdesk::allocator::Mimalloc;

fn main() -> std::process::ExitCode {
    syncdesk::cli::run()
}
