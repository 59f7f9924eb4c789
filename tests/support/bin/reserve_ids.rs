//! `reserve-ids HOME PROJECT PREFIX COUNT`: reserves COUNT session ids in the store at HOME
//! and prints each on its own line. Many of these run at once in the store tests.

use ao_core::store::Store;
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [home, project, prefix, count] = args.as_slice() else {
        eprintln!("usage: reserve-ids HOME PROJECT PREFIX COUNT");
        std::process::exit(2);
    };
    let count: u32 = count.parse().expect("COUNT is a number");
    let mut store = match Store::open(Path::new(home)) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("open: {e}");
            std::process::exit(1);
        }
    };
    for _ in 0..count {
        match store.reserve_session_id(project, prefix, std::process::id()) {
            Ok(id) => println!("{id}"),
            Err(e) => {
                eprintln!("reserve: {e}");
                std::process::exit(1);
            }
        }
    }
}
