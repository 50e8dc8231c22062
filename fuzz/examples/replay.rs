//! Replays inputs through a target's checks without libFuzzer, printing each failure:
//! `cargo run -p sluice-fuzz --example replay -- <target> <file or directory>...`.
//! With `SLUICE_FUZZ_SHOW=1`, `node_ops` inputs are printed as their operations first.

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().expect("usage: replay <target> <file or directory>...");
    let mut files = Vec::new();
    for arg in args {
        let path = std::path::PathBuf::from(arg);
        match std::fs::read_dir(&path) {
            Ok(entries) => files.extend(entries.map(|entry| entry.expect("entry").path())),
            Err(_) => files.push(path),
        }
    }
    files.sort();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = 0;
    for file in &files {
        let data = std::fs::read(file).expect("read an input");
        if target == "node_ops" && std::env::var_os("SLUICE_FUZZ_SHOW").is_some() {
            println!("{}: {:#?}", file.display(), sluice_fuzz::node_ops_input(&data));
        }
        if let Err(panic) = std::panic::catch_unwind(|| sluice_fuzz::check(&target, &data)) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
                .unwrap_or_default();
            println!("{}: {}", file.display(), message.lines().next().unwrap_or(""));
            failed += 1;
        }
    }
    println!("{failed} of {} inputs fail", files.len());
    std::process::exit(i32::from(failed > 0));
}
