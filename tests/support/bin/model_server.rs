//! `model-server SCENARIO.json [ADDR]`: runs the scripted model server for a trial by
//! hand. It prints its URL; each line read on standard input releases one held stream.

use ao_tests::model::{ModelServer, Scenario};
use std::io::BufRead;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: model-server SCENARIO.json [ADDR]");
        std::process::exit(2);
    };
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let server = ModelServer::start_on(&addr, Scenario::load(path.as_ref()));
    println!("{}", server.url);
    let server = std::sync::Arc::new(server);
    let log = server.clone();
    // Logs each request on standard error as it arrives.
    std::thread::spawn(move || {
        let mut seen = 0;
        loop {
            let requests = log.requests();
            for r in &requests[seen..] {
                seen += 1;
                let tools: Vec<String> = r.body["tools"]
                    .as_array()
                    .map(|t| {
                        t.iter()
                            .map(|t| {
                                t["name"]
                                    .as_str()
                                    .or_else(|| t["function"]["name"].as_str())
                                    .or_else(|| t["type"].as_str())
                                    .unwrap_or("?")
                                    .to_owned()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let keys: Vec<&String> = r
                    .body
                    .as_object()
                    .map(|o| o.keys().collect())
                    .unwrap_or_default();
                eprintln!(
                    "{} {} step={:?} tools={} keys={:?}",
                    r.method,
                    r.path,
                    r.step,
                    tools.join(","),
                    keys
                );
                if let Some(dir) = std::env::var_os("MODEL_SERVER_DUMP") {
                    let file = std::path::Path::new(&dir).join(format!("req-{seen}.json"));
                    let _ = std::fs::write(file, r.body.to_string());
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    });
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
        server.release();
    }
    // Standard input closed: keep serving until killed.
    loop {
        std::thread::park();
    }
}
